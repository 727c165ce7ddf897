"""Chaos soak: a seeded fault schedule against a real 3-node cluster, an independent checker.

- schedule.py: the events, drawn from a seed (pure, deterministic);
- faults.py: applies and heals each event through the lab and the fake's control API;
- sampler.py: its own process on the lab's switch, sampling every 100 ms what
  Pacemaker, the nodes' interfaces, OCI and a client on the switch see;
- samples.py, checker.py, metrics.py: the invariants and the timings, pure
  functions over the samples and the applied events;
- timing.py: T, the convergence deadline, from the live cluster's settings;
- runner.py / run.py: the whole soak (`make soak`, `make soak-ci`);
- report.py, docs.py: build/soak/report.json and docs/soak.md from it.
"""
