"""How a real plant's meter readings move, for the simulators that need live values (the demo's
RS485 meters in adw300_sim.py --live, and native_meter_sim.py).

One `meter` is one three-phase metering point: a daily load curve for its kind of load (local
time of day), slow noise around it (a mean-reverting random walk) plus a little jitter, an
uneven split over the phases, a power factor that sags at light load, voltage that dips a
little under load, a frequency wandering near 50 Hz, and energy counters integrated from the
power (so they only rise, and by exactly what the power says). Every value is primary-side,
in the vocabulary's units (docs/measurements.md): V, A, W, var, VA, Hz, kWh, kvarh, %, °C, dBm, 1.

The encoders (the ADW300 register image, the json-v2 and shadow payloads) live with the
simulators; this module knows nothing about wire formats. Pure Python, no third-party import.
"""

import math
import random
import time

# kind -> (base fraction of full load, [(centre hour, width in hours, amplitude)])
KINDS = {
    # continuous process: nearly flat, a little higher on the day shift
    "process": (0.62, [(11.0, 5.0, 0.22)]),
    # two shifts, 6:00 to 22:00, lunch and shift change dips
    "workshop": (0.22, [(9.0, 2.6, 0.62), (16.5, 2.8, 0.58), (12.3, 0.5, -0.18)]),
    # offices: working hours, a lunch dip, a little cooling in the afternoon
    "office": (0.12, [(10.0, 1.8, 0.55), (15.0, 2.2, 0.52), (12.5, 0.6, -0.15)]),
    # kitchen: breakfast, lunch, dinner
    "canteen": (0.08, [(7.5, 0.8, 0.35), (12.3, 1.0, 0.80), (18.5, 1.2, 0.45)]),
}
TARIFFS = ("sharp", "peak", "flat", "valley")


def hour_of_day(t):
    """Local time of day in hours (0 <= h < 24) for Unix time t."""
    lt = time.localtime(t)
    return lt.tm_hour + lt.tm_min / 60 + (lt.tm_sec + t % 1) / 3600


def load_fraction(kind, hour):
    """The load curve: the fraction of full load (0.02..1) a kind of load draws at an hour."""
    base, bumps = KINDS[kind]
    f = base
    for centre, width, amplitude in bumps:
        d = (hour - centre + 12) % 24 - 12  # distance on the 24 h circle
        f += amplitude * math.exp(-0.5 * (d / width) ** 2)
    return max(0.02, min(1.0, f))


def tariff(hour):
    """The time-of-use period an hour belongs to (a typical Chinese 4-period tariff)."""
    h = int(hour) % 24
    if h in (19, 20):
        return "sharp"
    if 10 <= h < 15 or 18 <= h < 21:
        return "peak"
    if h >= 23 or h < 7:
        return "valley"
    return "flat"


class meter:
    """One metering point. sample() advances it to now and returns {name: value}.

    seed: makes one meter's noise, phase split and starting counters its own.
    v_nominal: phase voltage (primary), i_rated: rated phase current (primary).
    speed: simulated seconds per wall second (the load curve and the counters run faster).
    """

    def __init__(self, seed, kind="workshop", v_nominal=230.0, i_rated=60.0, pf_nominal=0.93,
                 speed=1.0, t0=None):
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
        self.rng = random.Random(seed)
        rng = self.rng
        self.kind = kind
        self.v_nominal = v_nominal
        self.i_rated = i_rated
        self.pf_nominal = pf_nominal
        self.speed = speed
        self.p_full = 3 * v_nominal * i_rated * pf_nominal * 0.85  # W at load fraction 1
        share = [1 + rng.uniform(-0.09, 0.09) for _ in range(3)]
        self.share = [s * 3 / sum(share) for s in share]
        self.v_skew = [rng.uniform(-0.006, 0.006) for _ in range(3)]
        self.pf_skew = [rng.uniform(-0.02, 0.02) for _ in range(3)]
        self.t0 = time.time() if t0 is None else t0
        self.sim_last = None
        self.slow = 0.0      # mean-reverting load noise (relative)
        self.fnoise = 0.0    # frequency noise (Hz)
        self.last = None     # the previous sample's powers, for the integration
        # Counters: a meter that has been running for a while, in proportion to its size.
        kwh = rng.uniform(2000, 9000) * self.p_full / 20000
        self.e = {"import": [kwh * s / 3 for s in self.share],
                  "export": [rng.uniform(0, 3) for _ in range(3)],
                  "r_import": [kwh * 0.38 * s / 3 for s in self.share],
                  "r_export": [rng.uniform(0, 8) for _ in range(3)]}
        split = (0.08, 0.32, 0.33, 0.27)  # sharp, peak, flat, valley
        self.tariff = {kind_: {t: sum(self.e[kind_]) * f for t, f in zip(TARIFFS, split)}
                       for kind_ in ("import", "export", "r_import", "r_export")}
        # reactive quadrants: loads are inductive (Q1) with a little capacitive (Q4) history
        self.quadrant = [sum(self.e["r_import"]), 0.0, 0.0, sum(self.e["r_export"])]
        self.demand = {"p": None, "q": None, "s": None}
        self.demand_max = 0.0
        self.di = [1, 0, rng.choice((0, 1)), 0]

    def sim_time(self, now):
        return self.t0 + (now - self.t0) * self.speed

    def sample(self, now=None):
        now = time.time() if now is None else now
        sim = self.sim_time(now)
        dt = 0.0 if self.sim_last is None else max(0.0, sim - self.sim_last)
        self.sim_last = sim
        rng = self.rng
        hour = hour_of_day(sim)

        # slow noise: Ornstein-Uhlenbeck, 5 min time constant, 7 % spread; then 1 % jitter
        decay = math.exp(-dt / 300) if dt else 0.0
        self.slow = self.slow * decay + 0.07 * math.sqrt(1 - decay * decay) * rng.gauss(0, 1)
        load = load_fraction(self.kind, hour) * (1 + self.slow) * (1 + rng.gauss(0, 0.01))
        load = max(0.01, min(1.1, load))

        fdecay = math.exp(-dt / 60) if dt else 0.0
        self.fnoise = self.fnoise * fdecay + 0.02 * math.sqrt(1 - fdecay * fdecay) * rng.gauss(0, 1)
        freq = 50 + 0.03 * math.sin(2 * math.pi * sim / 900) + self.fnoise
        freq = max(49.8, min(50.2, freq))

        v, i, p, q, s, pf = [], [], [], [], [], []
        swing = 0.012 * math.sin(2 * math.pi * (hour - 4) / 24)  # the grid's own daily swing
        for k in range(3):
            vk = self.v_nominal * (1 + swing + self.v_skew[k] - 0.02 * load + rng.gauss(0, 0.001))
            pfk = self.pf_nominal - 0.12 * (1 - min(load, 1)) ** 2 + self.pf_skew[k] + rng.gauss(0, 0.002)
            pfk = max(0.5, min(0.999, pfk))
            pk = self.p_full / 3 * load * self.share[k] * (1 + rng.gauss(0, 0.004))
            sk = pk / pfk
            qk = math.sqrt(max(0.0, sk * sk - pk * pk))
            v.append(vk)
            pf.append(pfk)
            p.append(pk)
            q.append(qk)
            s.append(sk)
            i.append(sk / vk)
        p_t, q_t, s_t = sum(p), sum(q), sum(s)

        # energy: trapezoid between the previous sample and this one
        if self.last is not None and dt:
            hours = dt / 3600
            tar = tariff(hour)
            for k in range(3):
                de = (self.last["p"][k] + p[k]) / 2 * hours / 1000  # kWh
                dq = (self.last["q"][k] + q[k]) / 2 * hours / 1000  # kvarh
                self.e["import"][k] += de
                self.e["r_import"][k] += dq
                self.tariff["import"][tar] += de
                self.tariff["r_import"][tar] += dq
                self.quadrant[0] += dq
        self.last = {"p": p, "q": q}

        # demand: a 15-minute average, as an exponential one
        for key, x in (("p", p_t), ("q", q_t), ("s", s_t)):
            old = self.demand[key]
            self.demand[key] = x if old is None or not dt else old + (x - old) * (1 - math.exp(-dt / 900))
        self.demand_max = max(self.demand_max, self.demand["p"])

        line = [math.sqrt(a * a + b * b + a * b) for a, b in ((v[0], v[1]), (v[1], v[2]), (v[2], v[0]))]
        i_n = math.sqrt(max(0.0, sum(x * x for x in i) - i[0] * i[1] - i[1] * i[2] - i[2] * i[0]))

        def unbalance(xs):
            mean = sum(xs) / 3
            return 100 * max(abs(x - mean) for x in xs) / mean if mean else 0.0

        ambient = 24 + 6 * math.sin(2 * math.pi * (hour - 9) / 24)
        out = {}
        for k, ph in enumerate(("l1", "l2", "l3")):
            out[f"voltage_{ph}"] = v[k]
            out[f"current_{ph}"] = i[k]
            out[f"active_power_{ph}"] = p[k]
            out[f"reactive_power_{ph}"] = q[k]
            out[f"apparent_power_{ph}"] = s[k]
            out[f"power_factor_{ph}"] = pf[k]
            out[f"energy_import_{ph}"] = self.e["import"][k]
            out[f"energy_export_{ph}"] = self.e["export"][k]
            out[f"energy_reactive_import_{ph}"] = self.e["r_import"][k]
            out[f"energy_reactive_export_{ph}"] = self.e["r_export"][k]
            out[f"thd_voltage_{ph}"] = 2.1 + 0.8 * load + rng.gauss(0, 0.05)
            out[f"thd_current_{ph}"] = 6 + 14 * (1 - min(load, 1)) + rng.gauss(0, 0.3)
            out[f"temperature_{ph}"] = ambient + 18 * load * load * self.share[k] + rng.gauss(0, 0.1)
        for name, a, b in (("voltage_l1_l2", 0, 1), ("voltage_l2_l3", 1, 2), ("voltage_l3_l1", 2, 0)):
            out[name] = line[a]
        imp, exp = sum(self.e["import"]), sum(self.e["export"])
        rimp, rexp = sum(self.e["r_import"]), sum(self.e["r_export"])
        out.update({
            "current_n": i_n,
            "active_power_total": p_t,
            "reactive_power_total": q_t,
            "apparent_power_total": s_t,
            "power_factor_total": p_t / s_t if s_t else 1.0,
            "frequency": freq,
            "energy_import_total": imp,
            "energy_export_total": exp,
            "energy_active_combined_total": imp + exp,
            "energy_reactive_import_total": rimp,
            "energy_reactive_export_total": rexp,
            "energy_reactive_combined_total": rimp + rexp,
            "demand_active_import": self.demand["p"],
            "demand_active_export": 0.0,
            "demand_reactive_import": self.demand["q"],
            "demand_reactive_export": 0.0,
            "demand_apparent": self.demand["s"],
            "demand_active_import_max": self.demand_max,
            "voltage_unbalance": unbalance(v),
            "current_unbalance": unbalance(i),
            "temperature_n": ambient + 4 * load + rng.gauss(0, 0.1),
            "residual_current": 0.012 + 0.02 * load + abs(rng.gauss(0, 0.002)),
            "signal_strength": round(-67 + 3 * math.sin(sim / 600) + rng.gauss(0, 1)),
        })
        for q_no in range(4):
            out[f"energy_reactive_q{q_no + 1}"] = self.quadrant[q_no]
        for t in TARIFFS:
            out[f"energy_import_tariff_{t}"] = self.tariff["import"][t]
            out[f"energy_export_tariff_{t}"] = self.tariff["export"][t]
            out[f"energy_combined_tariff_{t}"] = self.tariff["import"][t] + self.tariff["export"][t]
            out[f"energy_reactive_import_tariff_{t}"] = self.tariff["r_import"][t]
            out[f"energy_reactive_export_tariff_{t}"] = self.tariff["r_export"][t]
        for b in range(4):
            out[f"di_{b + 1}"] = self.di[b]
        return out


def rated_for_ratios(pt, ct):
    """(phase voltage, rated phase current), primary side, for a meter wired through PTs/CTs
    of these ratios: 230 V direct or 100 V line (57.7 V phase) secondaries; 60 A direct or
    5 A secondaries."""
    v = 230.0 if pt <= 1 else 100 / math.sqrt(3) * pt
    i = 60.0 if ct <= 1 else 5.0 * ct
    return v, i
