"""The ADW300 register image the simulators serve, and what a gateway must make of it.

The table below is written from the ADW300 manual's register table (Acrel "ADW300 Series
wireless measuring instrument", V1.3, §6.2) on its own, not from etc/profiles/acrel-adw300.toml,
so comparing the daemon's output with expected() checks the
profile and the C++ codec together. Raw values are chosen to hit every edge the codec has:
negative i32 powers whose high word is 0xFFFE, positive i32 above 65535, u32 energies above
65535, i16 temperatures below zero, negative power factors, DI bits with a stray high bit.
"""

from fractions import Fraction

PT_RATIO = 2    # raw 0x0E: the meter's own PT ratio (values are secondary: multiplied by it)
CT_RATIO = 50   # raw 0x0F
SIZE = 0x300    # holding registers 0x0000..0x02FF exist; reads beyond are illegal addresses

PHASES = ("l1", "l2", "l3")
HARMONIC_BLOCKS = (("voltage", "l1"), ("voltage", "l2"), ("voltage", "l3"),
                   ("current", "l1"), ("current", "l2"), ("current", "l3"))
WIDTH = {"u16": 1, "i16": 1, "bits": 1, "u32": 2, "i32": 2}


def _table(unit):
    """[(name, address, type, scale, ratio, raw, bit)]; raw is the signed/unsigned number the
    register(s) hold (for bits: the whole register). A few values depend on the unit id so
    that tests can tell units apart."""
    t = []

    def add(name, addr, typ, scale, ratio, raw, bit=None):
        t.append((name, addr, typ, Fraction(scale), ratio, raw, bit))

    add("pt_ratio", 0x0E, "u16", 1, None, PT_RATIO)
    add("ct_ratio", 0x0F, "u16", 1, None, CT_RATIO)
    add("temperature_n", 0x10, "i16", "0.1", None, -125)
    for i, (p, raw) in enumerate(zip(PHASES, (2300 + unit, 2312, 2298))):
        add(f"voltage_{p}", 0x14 + i, "u16", "0.1", "pt", raw)
    for i, (p, raw) in enumerate(zip(("l1_l2", "l2_l3", "l3_l1"), (3985, 4001, 3979))):
        add(f"voltage_{p}", 0x17 + i, "u16", "0.1", "pt", raw)
    for i, (p, raw) in enumerate(zip(PHASES + ("n",), (503, 1250, 77, 431))):
        add(f"current_{p}", 0x1A + i, "u16", "0.01", "ct", raw)
    # 0.001 kW = 1 W raw units: scale 1
    for i, (p, raw) in enumerate(zip(PHASES + ("total",), (1234, -70000, 65537, -3229))):
        add(f"active_power_{p}", 0x1E + 2 * i, "i32", 1, "ptct", raw)
    for i, (p, raw) in enumerate(zip(PHASES + ("total",), (-512, 300, -100000, -100212))):
        add(f"reactive_power_{p}", 0x26 + 2 * i, "i32", 1, "ptct", raw)
    for i, (p, raw) in enumerate(zip(PHASES + ("total",), (1500, 70010, 65600, 137110))):
        add(f"apparent_power_{p}", 0x2E + 2 * i, "u32", 1, "ptct", raw)
    for i, (p, raw) in enumerate(zip(PHASES + ("total",), (823, -950, 1000, -512))):
        add(f"power_factor_{p}", 0x36 + i, "i16", "0.001", None, raw)
    for b in range(4):  # 0x8A: DI2 and DI4 on, bit 7 set to prove the mask
        add(f"di_{b + 1}", 0x3A, "bits", 1, None, 0x008A, bit=b)
    add("frequency", 0x3B, "u16", "0.01", None, 4998)
    totals = (("energy_active_combined_total", 12345678), ("energy_import_total", 9876500 + unit),
              ("energy_export_total", 70001), ("energy_reactive_import_total", 4321098),
              ("energy_reactive_export_total", 65536))
    for i, (name, raw) in enumerate(totals):
        add(name, 0x3C + 2 * i, "u32", "0.01", "ptct", raw)
    for i, p in enumerate(PHASES):  # per phase: combined (not read), import, export, r-import, r-export
        base = 0x46 + 10 * i
        for j, kind in enumerate(("energy_import", "energy_export", "energy_reactive_import",
                                  "energy_reactive_export")):
            add(f"{kind}_{p}", base + 2 + 2 * j, "u32", "0.01", "ptct", 100000 * (i + 1) + 1000 * j + 7)
    add("demand_active_import_max", 0x64, "u32", 1, "ptct", 45678)
    for i, p in enumerate(PHASES):
        add(f"thd_voltage_{p}", 0x74 + i, "u16", "0.01", None, (312, 287, 301)[i])
        add(f"thd_current_{p}", 0x77 + i, "u16", "0.01", None, (1520, 1610, 1733)[i])
    for bi, (kind, p) in enumerate(HARMONIC_BLOCKS):
        for h in range(2, 32):
            add(f"harmonic_{kind}_{p}_h{h}", 0x7A + 30 * bi + h - 2, "u16", "0.01", None, 1000 * bi + 10 * h + 3)
    for i, (name, raw) in enumerate((("demand_active_import", 3456), ("demand_active_export", 120),
                                     ("demand_reactive_import", 789), ("demand_reactive_export", 0))):
        add(name, 0x15A + 2 * i, "u32", 1, "ptct", raw)
    add("voltage_unbalance", 0x162, "u16", "0.01", None, 123)
    add("current_unbalance", 0x163, "u16", "0.01", None, 456)
    for i, (p, raw) in enumerate(zip(PHASES, (-55, 250, -1))):
        add(f"temperature_{p}", 0x164 + i, "i16", "0.1", None, raw)
    for k, (kind, base) in enumerate((("energy_combined_tariff", 0x197), ("energy_import_tariff", 0x19F),
                                      ("energy_export_tariff", 0x1A7), ("energy_reactive_import_tariff", 0x1AF),
                                      ("energy_reactive_export_tariff", 0x1B7))):
        for i, tariff in enumerate(("sharp", "peak", "flat", "valley")):
            add(f"{kind}_{tariff}", base + 2 * i, "u32", "0.01", "ptct", 65530 + 100003 * k + 11 * i)
    add("signal_strength", 0x1BF, "i16", 1, None, -73)
    add("residual_current", 0x1C1, "u16", "0.001", None, 30)  # mA
    add("do_1", 0x1C2, "u16", 1, None, 0)
    add("do_2", 0x1C3, "u16", 1, None, 1)
    add("alarm_state", 0x1EB, "u16", 1, None, 0x0105)
    add("demand_apparent", 0x1F2, "u32", 1, "ptct", 4100)
    add("energy_reactive_combined_total", 0x1F4, "u32", "0.001", "ptct", 1234567)
    for q in range(4):
        add(f"energy_reactive_q{q + 1}", 0x1F6 + 2 * q, "u32", "0.001", "ptct", 70000 + 1111 * q)
    return t


def _words(typ, raw):
    if typ in ("i16", "u16", "bits"):
        return [raw & 0xFFFF]
    u = raw & 0xFFFFFFFF
    return [u >> 16, u & 0xFFFF]  # high word first


def registers(unit):
    """The full holding-register image of one unit: a list of SIZE 16-bit words."""
    regs = [0] * SIZE
    regs[0x00] = unit   # Modbus address
    regs[0x01] = 4      # 9600 baud
    regs[0x04] = 0x0000  # no parity, 1 stop bit
    regs[0x11:0x14] = [0x1E2D, 0x0C19, 0x0B19]  # clock (packing inferred); not a measurement
    regs[0x66:0x68] = [0x1E0C, 0x0311]  # time of max demand; not a measurement
    regs[0x1C4] = 1     # demand period 15 min
    for name, addr, typ, _scale, _ratio, raw, _bit in _table(unit):
        for i, w in enumerate(_words(typ, raw)):
            regs[addr + i] = w
    return regs


def expected(unit, pt_ratio=None, ct_ratio=None):
    """{"values": name -> the number the daemon must publish, "before_ratio": the same before
    PT/CT, "ratio": name -> pt|ct|ptct, "registers": name -> [address, type, raw]}.
    pt_ratio/ct_ratio: a config override (docs/configuration.md), else the meter's own registers."""
    pt = Fraction(PT_RATIO if pt_ratio is None else pt_ratio)
    ct = Fraction(CT_RATIO if ct_ratio is None else ct_ratio)
    factor = {None: 1, "pt": pt, "ct": ct, "ptct": pt * ct}
    values, before, ratio, regs = {}, {}, {}, {}
    for name, addr, typ, scale, r, raw, bit in _table(unit):
        plain = ((raw >> bit) & 1) if typ == "bits" else raw * scale  # exact, in Fractions
        before[name] = float(plain)
        values[name] = float(plain * factor[r])
        if r:
            ratio[name] = r
        regs[name] = [addr, typ, raw] if bit is None else [addr, typ, raw, bit]
    return {"values": values, "before_ratio": before, "ratio": ratio, "registers": regs}


def writable():
    """Registers a master may write, as the profile marks them (do_1, do_2: 0..1)."""
    return {0x1C2: (0, 1), 0x1C3: (0, 1)}


_RANGE = {"u16": (0, 0xFFFF), "i16": (-0x8000, 0x7FFF), "u32": (0, 0xFFFFFFFF),
          "i32": (-0x80000000, 0x7FFFFFFF)}


def live_words(unit, values, pt_ratio, ct_ratio):
    """{address: 16-bit word} that make the meter read `values` (name -> primary-side value in
    the vocabulary's units, e.g. from plant.meter.sample()) under these PT/CT ratios: the
    inverse of expected(), rounded to the register's resolution. Names the map does not hold,
    and registers of names absent from `values`, are left out (DO, alarms, harmonics keep what
    the image or a write put there). DI bits of one register are merged."""
    factor = {None: 1, "pt": pt_ratio, "ct": ct_ratio, "ptct": pt_ratio * ct_ratio}
    words, bits = {}, {}
    for name, addr, typ, scale, r, _raw, bit in _table(unit):
        if name not in values:
            continue
        if typ == "bits":
            bits[addr] = bits.get(addr, 0) | ((1 if values[name] else 0) << bit)
            continue
        lo, hi = _RANGE[typ]
        raw = max(lo, min(hi, round(values[name] / (float(scale) * factor[r]))))
        for i, w in enumerate(_words(typ, raw)):
            words[addr + i] = w
    words.update(bits)
    return words
