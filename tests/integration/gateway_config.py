"""The daemon's configuration file (docs/configuration.md) as the tests write it: one writer, so
that the [gateway], [uplink] and [buffer] header is spelled in one place, with keyword
overrides for what a test varies. Tables are dicts of Python values (a str, int, float, bool,
a list of them, a dict for an inline table); a key whose value is None is left out; a list of
dicts is an array of sub-tables ([[native.meter]])."""

import json

from mbtest import PROFILES_DIR


def toml(value):
    """A Python value as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def _is_tables(value):
    return isinstance(value, list) and value and all(isinstance(v, dict) for v in value)


def table(header, keys, array=False):
    """[header] (with array, [[header]]) and a line per key; sub-tables after its keys."""
    lines = [f"[[{header}]]" if array else f"[{header}]"]
    lines += [f"{k} = {toml(v)}" for k, v in keys.items() if v is not None and not _is_tables(v)]
    text = "\n".join(lines) + "\n"
    for k, v in keys.items():
        if _is_tables(v):
            text += "".join(table(f"{header}.{k}", sub, array=True) for sub in v)
    return text


def bus(name, port, **keys):
    """A [[bus]]: keys such as baud, timeout, request_gap."""
    return {"name": name, "port": port, **keys}


def device(name, bus, unit, profile="acrel-adw300", **keys):
    """A [[device]]: keys such as interval, only, pt_ratio."""
    return {"name": name, "bus": bus, "unit": unit, "profile": profile, **keys}


def devices_on(bus_name, devices, **keys):
    """device() tables on bus_name for [(name, unit)] or [(name, unit, {more keys})], each with
    keys (interval=..., ...) where its own do not say otherwise; a dict in devices is a
    device() of its own (on another bus) and is taken as it is."""
    return [d if isinstance(d, dict) else
            device(d[0], bus_name, d[1], **{**keys, **(d[2] if len(d) > 2 else {})})
            for d in devices]


def native(name, url, subscribe, format="acrel-json-v2", **keys):
    """A [[native]]: keys such as unknown, offline_after; meter=[{serial, name}] for its
    [[native.meter]] tables, values={...} for a json format's field map."""
    return {"name": name, "url": url, "subscribe": subscribe, "format": format, **keys}


def config_text(gateway_id, url, buffer_path, *, log_level="info", profile_dirs=(PROFILES_DIR,),
                gateway=None, uplink=None, buffer=None, buses=(), devices=(), natives=()):
    """The whole file. [uplink] has keepalive 10s unless uplink says otherwise (None: the
    default): a lost link is noticed within the tests' waits. gateway, uplink, buffer: more
    keys of those tables; buses, devices, natives: dicts as bus(), device() and native() make
    them, in order."""
    parts = [table("gateway", {"id": gateway_id, "log_level": log_level,
                               "profile_dirs": list(profile_dirs), **(gateway or {})}),
             table("uplink", {"url": url, "keepalive": "10s", **(uplink or {})}),
             table("buffer", {"path": buffer_path, **(buffer or {})})]
    parts += [table("bus", b, array=True) for b in buses]
    parts += [table("device", d, array=True) for d in devices]
    parts += [table("native", n, array=True) for n in natives]
    return "\n".join(parts)
