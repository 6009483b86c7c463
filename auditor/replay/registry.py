"""ParticipantRegistry, replayed: participants, sites, wallets, certifications over time, capacities and the
reference data (materials, schemes, characteristics, processes); and the permission questions the other
contracts ask it (requireActor, the certification that counts at a block)."""

from __future__ import annotations


from ..model import CERT_STATUS, UNCERTIFIED, Findings
from ..rules import (
    Problem,
    actor_problem,
    capacity_available,
    capacity_used_after_set,
    certification_counts,
    certification_live,
    coverage_slot,
    not_certified,
    status_change_allowed,
)
from .events import COVERAGE_SLOTS, ACTIVE, Ev


class RegistryReplay:
    """State and event handlers of ParticipantRegistry (one part of `Replay`, which supplies `f` and `addr`)."""

    f: Findings
    addr: dict[str, str]

    def _init_registry(self) -> None:
        self.participants: dict[int, dict] = {}
        self.sites: dict[int, dict] = {}
        self.wallets: dict[str, tuple[int, int]] = {}
        self.wallet_history: list[dict] = []
        self.certifications: dict[int, dict] = {}
        self.coverage: dict[tuple[int, int, int], list[int]] = {}
        self.capacity: dict[tuple[int, int], dict] = {}
        self.body_certification: dict[tuple[int, int, int], int] = {}  # (holder, material, body) -> newest id
        self.onboarded: set[int] = set()  # participants that ever had a wallet
        self.materials: dict[int, dict] = {}
        self.schemes: dict[int, dict] = {}
        self.characteristics: dict[int, dict] = {}
        self.processes: dict[int, dict] = {}
        self.linked: dict | None = None

    # ------------------------------------------------------------------ registry queries (at replay time)
    def actor_check(self, wallet: str, roles: int) -> tuple[int, int, Problem | None]:
        """(participant, site, problem or None) as requireActor would answer now."""
        pid, site = self.wallets.get(wallet, (0, 0))
        return pid, site, actor_problem(wallet, pid, self.participants.get(pid), roles)

    def actor(self, wallet: str, roles: int) -> tuple[int, int, str | None]:
        pid, site, problem = self.actor_check(wallet, roles)
        return pid, site, problem.text if problem else None

    def certification_for(self, pid: int, material: int, characteristic: int, model: int, ts: int) -> tuple[bool, int]:
        """(valid, id) of the certification that counts: the newest of the remembered ones that covers `model`."""
        best = 0
        for cid in self.coverage.get((pid, material, characteristic), []):
            if cid > best and certification_counts(self.certifications[cid], model, ts):
                best = cid
        return best != 0, best

    def certified_actor_check(self, wallet: str, roles: int, material: int, characteristic: int, model: int,
                              ts: int) -> tuple[int, int, Problem | None]:
        """requireActor, then (for a claim-carrying model) requireCertified."""
        pid, site, problem = self.actor_check(wallet, roles)
        if problem is None and model != UNCERTIFIED:
            if not self.certification_for(pid, material, characteristic, model, ts)[0]:
                problem = not_certified(pid, material, characteristic, model)
        return pid, site, problem

    def certified_actor(self, wallet: str, roles: int, material: int, characteristic: int, model: int, ts: int):
        pid, site, problem = self.certified_actor_check(wallet, roles, material, characteristic, model, ts)
        return pid, site, problem.text if problem else None

    def certification_at(self, cid: int, ts: int) -> str:
        c = self.certifications.get(cid)
        if c is None:
            return "unknown"
        status = ACTIVE
        for when, st, _ in c["history"]:
            if when <= ts:
                status = st
        return CERT_STATUS[status]

    # ================================================================== registry events
    def on_registry_ParticipantRegistered(self, e: Ev) -> None:
        a = e.a
        self.participants[a["participantId"]] = {
            "name": a["name"], "roles": a["roles"], "status": ACTIVE, "ref": e.ref(),
            "history": [(e.ts, a["roles"], ACTIVE, e.ref())],
        }

    def on_registry_ParticipantRolesChanged(self, e: Ev) -> None:
        p = self.participants.get(e.a["participantId"])
        if p is None:
            self.f.add("registry.consistency", "roles changed for an unknown participant", [e.ref()])
            return
        p["roles"] = e.a["roles"]
        p["history"].append((e.ts, p["roles"], p["status"], e.ref()))

    def on_registry_ParticipantStatusChanged(self, e: Ev) -> None:
        p = self.participants.get(e.a["participantId"])
        if p is None:
            self.f.add("registry.consistency", "status changed for an unknown participant", [e.ref()])
            return
        p["status"] = e.a["status"]
        p["history"].append((e.ts, p["roles"], p["status"], e.ref()))

    def on_registry_SiteAdded(self, e: Ev) -> None:
        self.sites[e.a["siteId"]] = {"owner": e.a["participantId"], "name": e.a["name"],
                                     "locationRef": e.a["locationRef"], "ref": e.ref()}

    def on_registry_WalletAdded(self, e: Ev) -> None:
        a = e.a
        site = a["siteId"]
        if site and self.sites.get(site, {}).get("owner") != a["participantId"]:
            self.f.add("registry.consistency", f"wallet bound to site {site} not owned by participant {a['participantId']}",
                       [e.ref()])
        self._check_wallet_consent(e)
        self.onboarded.add(a["participantId"])
        self.wallets[a["wallet"]] = (a["participantId"], site)
        self.wallet_history.append({"wallet": a["wallet"], "participant": a["participantId"], "site": site,
                                    "added": e.ref(), "ts": e.ts})

    def _check_wallet_consent(self, e: Ev) -> None:
        """The participant's consent: the admin alone binds only its first wallet; a further one is bound by
        an active wallet of the participant itself (ParticipantRegistry.addWallet)."""
        a = e.a
        pid, by = a["participantId"], a.get("by")
        if by is None or by == "0x" + "00" * 20:  # the admin's own first wallet, at deployment
            self.f.ok("registry.consistency")
            return
        by_pid, _, problem = self.actor_check(by, 63)
        admin = by_pid and self.participants.get(by_pid, {}).get("roles", 0) & 1
        if problem is not None:
            self.f.add("registry.consistency", f"wallet {a['wallet']} bound by {by}, not an active registered wallet",
                       [e.ref()])
        elif by_pid != pid and not (admin and pid not in self.onboarded):
            self.f.add("registry.consistency", f"wallet {a['wallet']} bound to participant {pid}, which already had a "
                       f"wallet, by {by} of participant {by_pid} without the participant's consent", [e.ref()])
        else:
            self.f.ok("registry.consistency")

    def on_registry_WalletRemoved(self, e: Ev) -> None:
        self.wallets.pop(e.a["wallet"], None)
        self.wallet_history.append({"wallet": e.a["wallet"], "participant": e.a["participantId"], "removed": e.ref(),
                                    "ts": e.ts})

    def on_registry_CertificationRecorded(self, e: Ev) -> None:
        a, p = e.a, e.a["params"]
        cid = a["certificationId"]
        self.certifications[cid] = {
            "holder": a["holder"], "certifier": a["certifier"], "scheme": p["scheme"], "number": p["certificateNumber"],
            "materials": list(p["materials"]), "characteristics": list(p["characteristics"]), "models": p["models"],
            "validFrom": p["validFrom"], "validTo": p["validTo"], "status": ACTIVE, "ref": e.ref(),
            "history": [(e.ts, ACTIVE, e.ref())],
        }
        problems = []
        for m in p["materials"]:
            for ch in p["characteristics"]:
                slots = self.coverage.setdefault((a["holder"], m, ch), [0] * COVERAGE_SLOTS)
                i, problem = coverage_slot(slots, self.certifications, a["certifier"], e.ts)
                if problem:
                    problems.append(f"material {m}, characteristic {ch}: {problem}")
                else:
                    slots[i] = cid
            self.body_certification[(a["holder"], m, a["certifier"])] = cid
        if problems:
            self.f.add("registry.consistency", f"certification {cid} recorded where the registry must refuse it: "
                       + "; ".join(problems), [e.ref()])
        else:
            self.f.ok("registry.consistency")

    def on_registry_CertificationStatusChanged(self, e: Ev) -> None:
        c = self.certifications.get(e.a["certificationId"])
        if c is None:
            self.f.add("registry.consistency", "status change of an unknown certification", [e.ref()])
            return
        frm, to = c["status"], e.a["status"]
        allowed = status_change_allowed(frm, to)
        if not allowed:
            self.f.add("registry.consistency", f"certification {e.a['certificationId']} went {CERT_STATUS[frm]} -> "
                       f"{CERT_STATUS[to]}, a change the registry must refuse", [c["ref"], e.ref()])
        else:
            self.f.ok("registry.consistency")
        c["status"] = to
        c["history"].append((e.ts, to, e.ref()))
        c.setdefault("changes", []).append({"status": to, "reasonHash": e.a["reasonHash"], "ref": e.ref()})

    def on_registry_CapacitySet(self, e: Ev) -> None:
        """ParticipantRegistry.setCapacity: set by the admin or by the participant's certifying body for the
        material (a live certification it recorded); what was used carries over within a window."""
        a = e.a
        key = (a["participantId"], a["material"])
        body = a["certifier"]
        admin = self.participants.get(body, {}).get("roles", 0) & 1
        cert = self.certifications.get(self.body_certification.get((a["participantId"], a["material"], body), 0))
        problems = []
        if not admin and not certification_live(cert, e.ts):
            problems.append(f"set by participant {body}, not the certifying body of participant {a['participantId']} "
                            f"for material {a['material']}")
        if problems:
            self.f.add("origin.capacity", "; ".join(problems), [e.ref()])
        else:
            self.f.ok("origin.capacity")
        prev = self.capacity.get(key)
        self.capacity[key] = {
            "validFrom": a["validFrom"], "validTo": a["validTo"], "amount": a["amount"],
            "used": capacity_used_after_set(prev, a["validFrom"]), "ref": e.ref(),
        }

    def on_registry_CapacityUsed(self, e: Ev) -> None:
        self._tx_capacity.append(e)
        a = e.a
        cap = self.capacity.get((a["participantId"], a["material"]))
        if cap is None:
            # A certified origin whose certified part rounds to 0 uses 0 of a capacity that need not exist.
            if a["amount"] or a["used"]:
                self.f.add("origin.capacity", f"capacity used by participant {a['participantId']} without a "
                           "capacity set", [e.ref()])
            else:
                self.f.ok("origin.capacity")
            return
        available = capacity_available(cap, e.ts)
        problems = []
        if a["amount"] > available:
            problems.append(f"used {a['amount']} with only {available} available in the window")
        if cap["used"] + a["amount"] != a["used"]:
            problems.append(f"counter says {a['used']}, replay {cap['used'] + a['amount']}")
        cap["used"] += a["amount"]
        if problems:
            self.f.add("origin.capacity", "; ".join(problems), [cap["ref"], e.ref()])
        else:
            self.f.ok("origin.capacity")

    def on_registry_MaterialRegistered(self, e: Ev) -> None:
        a = e.a
        self.materials[a["material"]] = {"name": a["name"], "unit": a["unit"], "group": a["group"], "waste": a["waste"]}

    def on_registry_SchemeRegistered(self, e: Ev) -> None:
        a = e.a
        self.schemes[a["scheme"]] = {"name": a["name"], "periodLength": a["periodLength"], "anchor": a["anchor"],
                                     "lapseAfterPeriods": a["lapseAfterPeriods"]}

    def on_registry_CharacteristicRegistered(self, e: Ev) -> None:
        self.characteristics[e.a["characteristic"]] = {"name": e.a["name"], "scheme": e.a["scheme"]}

    def on_registry_ProcessRegistered(self, e: Ev) -> None:
        a = e.a
        self.processes[a["processId"]] = {"name": a["name"], "input": a["inputMaterial"], "output": a["outputMaterial"],
                                          "factor": a["factor"], "tolerance": a["tolerance"]}

    def on_registry_ContractsLinked(self, e: Ev) -> None:
        a = e.a
        self.linked = {"forwarder": a["forwarder"], "ledger": a["batchLedger"], "mass": a["massBalance"],
                       "certs": a["certificateRegistry"], "ref": e.ref()}
        bad = [k for k in ("forwarder", "ledger", "mass", "certs") if self.addr.get(k) and self.linked[k] != self.addr[k]]
        if bad:
            self.f.add("registry.consistency", f"ContractsLinked names other contracts than the registry's views: {bad}",
                       [e.ref()])
        else:
            self.f.ok("registry.consistency")
