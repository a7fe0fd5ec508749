#!/usr/bin/env python3
"""The factory degradation model of `data/scenarios/factory.toml`, written
with Mesa, for `twin bench world` to compare against.

It mirrors the Rust world (scenarios/src/world/factory.rs and sensor.rs):
machines whose hidden life is drawn from the C-MAPSS lifetimes and whose
health follows the C-MAPSS degradation table, load from the shifts, sudden
failures; sensors that sample the machine's true values through the same
models (noise, relative noise, drift, dropout, stuck values, spikes,
resolution, latency, duplicates); technicians walking. One tick is one
second. It prints one JSON object: entities, ticks, seconds, updates_per_s.

    python3 scripts/mesa_factory.py --entities 1000000 --ticks 3
"""
import argparse
import bisect
import json
import math
import os
import random
import time
import tomllib

import mesa

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def table(name, col):
    rows = []
    with open(os.path.join(ROOT, "data", "profiles", name)) as f:
        lines = [l for l in f if not l.startswith("#")][1:]
        for l in lines:
            rows.append([float(x) for x in l.split(",")])
    return [r[col] for r in rows], rows


LIFETIMES, _ = table("cmapss_lifetimes.csv", 1)
_, DEG = table("cmapss_degradation.csv", 0)
DEG_X = [r[0] for r in DEG]
DEG_Y = [r[1] for r in DEG]


def degradation(f):
    if f >= 1.0:
        return 1.0
    f = max(f, 0.0)
    i = bisect.bisect_left(DEG_X, f)
    if i == 0:
        return DEG_Y[0]
    x0, x1, y0, y1 = DEG_X[i - 1], DEG_X[i], DEG_Y[i - 1], DEG_Y[i]
    return y0 + (y1 - y0) * (f - x0) / (x1 - x0)


def seconds(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for u in ("ms", "s", "m", "h", "d"):
        if text.endswith(u) and text[: -len(u)].replace(".", "").isdigit():
            return float(text[: -len(u)]) * units[u]
    raise ValueError(text)


PROFILE = {"pump": (2.2, 6.0, 25.0), "cnc-mill": (1.4, 0.0, 60.0)}
SLOT = {"vibration_rms": 0, "temperature": 1, "pressure": 2, "current": 3}
RANGE = {"vibration_rms": (0, 500), "temperature": (-60, 200), "pressure": (0, 1000), "current": (0, 10000)}


class Machine(mesa.Agent):
    def __init__(self, model, subtype, life_used, units_per_hour):
        super().__init__(model)
        self.vib, self.pressure, self.current = PROFILE.get(subtype, (1.8, 0.0, 40.0))
        self.life_h = random.choice(LIFETIMES) * model.hours_per_cycle
        self.age_h = self.life_h * life_used
        self.health = 1.0 - degradation(self.age_h / self.life_h)
        self.units_per_hour = units_per_hour
        self.running = True
        self.truth = [0.0] * 5
        self.produced = 0.0

    def step(self):
        m = self.model
        dt, load = m.dt_h, m.load
        if self.running:
            self.age_h += dt * (0.3 + 0.7 * load)
            self.health = 1.0 - degradation(self.age_h / self.life_h)
            if self.health <= 0.05 or random.random() < m.hazard * dt:
                self.running = False
        t = self.truth
        if self.running:
            d = 1.0 - self.health
            t[0] = self.vib * (0.5 + 0.5 * load) + 9.0 * d * d
            t[1] = 22.0 + 25.0 * load + 25.0 * d
            t[2] = self.pressure * load * (1.0 - 0.25 * d)
            t[3] = self.current * (0.3 + 0.7 * load) * (1.0 + 0.15 * d)
            t[4] = self.units_per_hour * load * (1.0 - 0.2 * d)
            self.produced += t[4] * dt
        else:
            t[0], t[1], t[2], t[3], t[4] = 0.05, 22.0, 0.0, 0.0, 0.0


class Sensor(mesa.Agent):
    def __init__(self, model, machine, measurand, spec):
        super().__init__(model)
        self.machine = machine
        self.slot = SLOT[measurand]
        self.lo, self.hi = RANGE[measurand]
        self.period = seconds(spec.get("period", "1s"))
        self.noise = spec.get("noise", 0.0)
        self.relative = spec.get("relative_noise", 0.0)
        self.drift = spec.get("drift_per_day", 0.0) * random.gauss(0, 1)
        self.dropout = spec.get("dropout", 0.0)
        stuck = spec.get("stuck")
        self.stuck_p = stuck["per_day"] * self.period / 86400 if stuck else 0.0
        self.stuck_len = seconds(stuck["duration"]) if stuck else 0.0
        spikes = spec.get("spikes")
        self.spike_p, self.spike = (spikes["probability"], spikes["size"]) if spikes else (0.0, 0.0)
        lat = spec.get("latency")
        self.latency = (seconds(lat["mean"]), seconds(lat["max"])) if lat else None
        self.duplicates = spec.get("duplicates", 0.0)
        self.resolution = spec.get("resolution", 0.0)
        self.next_due = random.random() * self.period
        self.stuck_until = -1.0
        self.last = None
        self.seq = 0

    def step(self):
        m = self.model
        now = m.now
        if self.next_due > now:
            return
        while self.next_due <= now:
            self.next_due += self.period
        if self.dropout and random.random() < self.dropout:
            return
        if self.stuck_until > now:
            x = self.last
        elif self.stuck_p and self.last is not None and random.random() < self.stuck_p:
            self.stuck_until = now + self.stuck_len
            x = self.last
        else:
            truth = self.machine.truth[self.slot]
            x = truth + self.drift * now / 86400
            if self.noise:
                x += random.gauss(0, self.noise)
            if self.relative:
                x += abs(truth) * random.gauss(0, self.relative)
            if self.spike_p and random.random() < self.spike_p:
                x += self.spike if random.random() < 0.5 else -self.spike
            if self.resolution:
                x = round(x / self.resolution) * self.resolution
            x = min(max(x, self.lo), self.hi)
        self.last = x
        self.seq += 1
        deliver = now
        if self.latency:
            deliver = now + min(random.expovariate(1 / self.latency[0]), self.latency[1])
        obs = (self.unique_id, now, x, self.seq)
        if self.duplicates and random.random() < self.duplicates:
            m.outbox.append((deliver, obs))
        m.outbox.append((deliver, obs))


class Technician(mesa.Agent):
    def __init__(self, model, x, y):
        super().__init__(model)
        self.home = (x, y)
        self.pos_xy = (x + 30.0, y)
        self.speed = 4.5 / 3.6

    def step(self):
        (x, y), (hx, hy) = self.pos_xy, self.home
        d = math.hypot(hx - x, hy - y)
        step = self.speed * self.model.dt_h * 3600
        if d <= step:
            self.pos_xy = self.home
        else:
            self.pos_xy = (x + (hx - x) / d * step, y + (hy - y) / d * step)


class Factory(mesa.Model):
    def __init__(self, scenario, entities, seed=42):
        super().__init__(seed=seed)
        random.seed(seed)
        f = scenario["factory"]
        per_unit = sum(g["count"] * (1 + len(g.get("sensors", {}))) for g in f["machines"])
        per_unit += f.get("technicians", {}).get("count", 2) + 1
        scale = entities / per_unit
        self.hours_per_cycle = f.get("hours_per_cycle", 1.0)
        self.hazard = scenario.get("events", {}).get("failures", {}).get("per_machine_year", 0.0) / 8760
        self.shifts = f.get("shifts", {"day": 1.0, "night": 0.5, "weekend": 0.2})
        self.dt_h = 1 / 3600
        self.now = 0.0
        self.outbox = []
        self.machines = []
        self.sensors = []
        for g in f["machines"]:
            lo, hi = g.get("initial_life_used", {"uniform": [0.0, 0.6]})["uniform"]
            for _ in range(max(1, round(g["count"] * scale))):
                m = Machine(self, g["subtype"], random.uniform(lo, hi), g.get("units_per_hour", 60))
                self.machines.append(m)
                for measurand, model in g.get("sensors", {}).items():
                    self.sensors.append(Sensor(self, m, measurand, scenario["sensors"][model]))
        techs = max(1, round(f.get("technicians", {}).get("count", 2) * scale))
        self.technicians = [Technician(self, -10.0, 4.0 * i) for i in range(techs)]

    def step(self):
        # Monday daytime, as the Rust bench's epoch.
        self.load = self.shifts["day"]
        # Mesa's own agent sets, by type, in the order the Rust world runs.
        self.agents_by_type[Machine].do("step")
        self.agents_by_type[Technician].do("step")
        before = len(self.outbox)
        self.agents_by_type[Sensor].do("step")
        self.samples = len(self.outbox) - before
        self.outbox.clear()
        self.now += 1.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=1_000_000)
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--scenario", default=os.path.join(ROOT, "data", "scenarios", "factory.toml"))
    args = ap.parse_args()
    with open(args.scenario, "rb") as f:
        scenario = tomllib.load(f)
    t0 = time.perf_counter()
    model = Factory(scenario, args.entities)
    build = time.perf_counter() - t0
    model.step()  # warm-up, as the Rust bench
    updates = 0
    t0 = time.perf_counter()
    for _ in range(args.ticks):
        model.step()
        updates += len(model.machines) + len(model.technicians) + model.samples
    secs = time.perf_counter() - t0
    n = len(model.machines) + len(model.sensors) + len(model.technicians) + 1
    print(json.dumps({
        "mesa_version": mesa.__version__,
        "entities": n,
        "ticks": args.ticks,
        "seconds": secs,
        "build_seconds": build,
        "updates_per_s": updates / secs,
    }))


if __name__ == "__main__":
    main()
