"""The ledger's rules as small pure functions over plain values.

The replay's checks use them to judge what the events say happened; the stateful property test of the
contracts (tests/contracts/test_invariants.py) uses the same functions, over the same replayed state, to
predict what the contracts must do next. One copy of each rule besides the Solidity.

A rule that can fail answers with `Problem`s: the custom error the contract raises for it (name and
arguments, as the contract's ABI declares them) and the sentence the audit reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import CONTROLLED_BLENDING, IDENTITY_PRESERVED, MASS_BALANCE, PPM, SEGREGATED, UNCERTIFIED


@dataclass(frozen=True)
class Problem:
    error: str  # the contract's custom error
    args: dict[str, Any]  # its arguments
    text: str  # what the audit says


# ---------------------------------------------------------------------------------------------- registry
def actor_problem(wallet: str, pid: int, participant: dict | None, roles: int) -> Problem | None:
    """requireActor: a registered wallet of an active participant holding one of `roles`."""
    if pid == 0:
        return Problem("RegistryUnknownWallet", {"wallet": wallet}, f"wallet {wallet} is not registered")
    if participant is None or participant["status"] != 1:
        return Problem("RegistryParticipantSuspended", {"participantId": pid}, f"participant {pid} is not active")
    if participant["roles"] & roles == 0:
        return Problem("RegistryMissingRole", {"wallet": wallet, "participantId": pid, "role": roles},
                       f"participant {pid} lacks role {roles} (has {participant['roles']})")
    return None


def certification_counts(c: dict, model: int, ts: int) -> bool:
    """A certification covers `model` at time `ts`: active, within its validity, the model among its models."""
    return c["status"] == 1 and c["validFrom"] <= ts <= c["validTo"] and (c["models"] >> model) & 1 == 1


def not_certified(pid: int, material: int, characteristic: int, model: int) -> Problem:
    return Problem("RegistryNotCertified",
                   {"participantId": pid, "material": material, "characteristic": characteristic, "model": model},
                   f"participant {pid} holds no valid certification for material {material}, "
                   f"characteristic {characteristic}, model {model} at that block")


def capacity_available(cap: dict | None, ts: int) -> int:
    """What a producer may still certify of a material at `ts` (0 outside the capacity's window)."""
    if cap is None or not cap["validFrom"] <= ts <= cap["validTo"]:
        return 0
    return max(0, cap["amount"] - cap["used"])  # an amount lowered below what was used leaves nothing


def capacity_used_after_set(previous: dict | None, valid_from: int) -> int:
    """`used` after setCapacity, as ParticipantRegistry.setCapacity computes it: a window that starts after the
    previous one ended starts from zero; a raise (or any change) within an overlapping window keeps what was used
    (finding H: the auditor reset it to 0 and reported a legitimate raise as a failure)."""
    if previous is None:
        return 0  # the contract's empty slot has validTo 0, and validFrom > 0
    return 0 if valid_from > previous["validTo"] else previous["used"]


def certification_live(cert: dict | None, ts: int) -> bool:
    """Active and not expired at `ts` (whatever its models): it holds a coverage slot and makes its body the
    holder's certifying body."""
    return cert is not None and cert["status"] == 1 and cert["validTo"] >= ts


COVERAGE_PER_BODY = 2  # live coverage slots one certifying body may hold per (holder, material, characteristic)


def coverage_slot(slots: list[int], certifications: dict, certifier: int, ts: int) -> tuple[int | None, str | None]:
    """ParticipantRegistry._cover: the first slot whose certification is not live (empty, withdrawn, suspended,
    expired), unless the body already holds COVERAGE_PER_BODY live slots; (index, None) or (None, error)."""
    free, own = None, 0
    for i, cid in enumerate(slots):
        c = certifications.get(cid) if cid else None
        if not certification_live(c, ts):
            if free is None:
                free = i
        elif c["certifier"] == certifier:
            own += 1
    if own >= COVERAGE_PER_BODY:
        return None, "RegistryCoverageBodyLimit"
    if free is None:
        return None, "RegistryCoverageFull"
    return free, None


def status_change_allowed(frm: int, to: int) -> bool:
    """Certification status: active <-> suspended, anything but withdrawn -> withdrawn."""
    return (to == 2 and frm == 1) or (to == 1 and frm == 2) or (to == 3 and frm != 3)


# ---------------------------------------------------------------------------------------------- origins
def origin_share_valid(model: int, share: int) -> bool:
    """Segregated and identity preserved carry the whole share, controlled blending a part, the rest none."""
    if model >= SEGREGATED:
        return share == PPM
    if model == CONTROLLED_BLENDING:
        return 0 < share <= PPM
    return share == 0


def origin_of_new_origin(model: int, batch_id: int) -> int:
    """An origin batch of a physical model (controlled blending and stronger) is its own origin."""
    return batch_id if model >= CONTROLLED_BLENDING else 0


def certified_quantity(model: int, quantity: int, share: int) -> int:
    """The certified part of a quantity: all of it under mass balance, its share under the physical models."""
    return quantity if model == MASS_BALANCE else quantity * share // PPM


# ---------------------------------------------------------------------------------------------- mixing
@dataclass
class Mix:
    """The inputs of a merge or transform, summed as the ledger sums them."""

    material: int
    origin: int
    characteristic: int = 0
    certified: int = 0
    total: int = 0
    mixed: bool = False  # inputs of more than one origin
    parents: list[tuple[int, int]] = field(default_factory=list)


def mix_add(m: Mix | None, b: dict, q: int, model: int) -> tuple[Mix, list[Problem]]:
    """Adds `q` of batch `b` to the mix for an output of `model`; the problems this input raises, in the
    order the ledger checks them."""
    problems = []
    if m is None:
        m = Mix(b["material"], b["origin"])
    elif b["material"] != m.material:
        problems.append(Problem("BatchMaterialMismatch", {"batchId": b["id"], "expected": m.material,
                                                          "actual": b["material"]},
                                f"input {b['id']} of material {b['material']} mixed with {m.material}"))
    if b["origin"] != m.origin:
        m.mixed = True
    if model != UNCERTIFIED and b["model"] != UNCERTIFIED:
        if m.characteristic == 0:
            m.characteristic = b["characteristic"]
        elif b["characteristic"] != m.characteristic:
            problems.append(Problem("BatchCharacteristicMismatch",
                                    {"batchId": b["id"], "expected": m.characteristic, "actual": b["characteristic"]},
                                    f"input {b['id']} has characteristic {b['characteristic']}, not {m.characteristic}"))
    if model >= SEGREGATED and b["model"] < model:
        problems.append(Problem("BatchModelUpgrade", {"batchId": b["id"], "inputModel": b["model"], "requested": model},
                                f"input {b['id']} of model {b['model']} upgraded to {model}"))
    if model == IDENTITY_PRESERVED and b["origin"] != m.origin:
        problems.append(Problem("BatchIdentityPreservedMixed",
                                {"batchId": b["id"], "expectedOrigin": m.origin, "origin": b["origin"]},
                                f"identity preserved output mixes origins {m.origin} and {b['origin']}"))
    if b["model"] >= CONTROLLED_BLENDING:
        m.certified += q * b["share"] // PPM
    m.total += q
    m.parents.append((b["id"], q))
    return m, problems


def mix_end(m: Mix, model: int) -> list[Problem]:
    """What the whole mix must have for an output of `model`."""
    if model == CONTROLLED_BLENDING and m.certified == 0:
        return [Problem("BatchNoCertifiedInput", {}, "controlled blending without certified input")]
    if model == MASS_BALANCE and m.characteristic == 0:
        return [Problem("BatchNoCertifiedInput", {}, "mass balance output without certified input")]
    return []


def output_claim(m: Mix, model: int) -> tuple[int, int, int]:
    """(share, origin, characteristic) of the output of a mix under `model`."""
    if model >= SEGREGATED:
        share = PPM
    elif model == CONTROLLED_BLENDING:
        share = m.certified * PPM // m.total
    else:
        share = 0
    origin = m.origin if model >= SEGREGATED and not m.mixed else 0
    return share, origin, 0 if model == UNCERTIFIED else m.characteristic


def transform_bounds(total: int, factor: int, tolerance: int) -> tuple[int, int]:
    """(minimum, maximum) output of a transform of `total` input through a process."""
    return total * (factor - tolerance) // PPM, total * factor // PPM


def converted_credits(credits: int, factor: int) -> int:
    """Credits a conversion books into the output material, with the process's factor."""
    return credits * factor // PPM


# ---------------------------------------------------------------------------------------------- credits
def claim_model(model: int, certified_quantity: int) -> int:
    """The model a delivery carries: a mass-balance batch without a declaration travels uncertified."""
    return UNCERTIFIED if model == MASS_BALANCE and certified_quantity == 0 else model


def credit_move_problem(materials: dict[int, dict], frm: int, to: int) -> Problem | None:
    """Credits move only between different materials of one conversion-factor group, never from waste to
    regular material."""
    return material_group_problem(materials, frm, to) or waste_to_regular(materials, frm, to)


def material_group_problem(materials: dict[int, dict], frm: int, to: int) -> Problem | None:
    group = materials.get(frm, {}).get("group")
    if frm == to or not group or group != materials.get(to, {}).get("group"):
        return Problem("MassBalanceMaterialGroupMismatch", {"fromMaterial": frm, "toMaterial": to},
                       f"materials {frm} -> {to} are not one conversion-factor group")
    return None


def waste_to_regular(materials: dict[int, dict], frm: int, to: int) -> Problem | None:
    if materials.get(frm, {}).get("waste") and not materials.get(to, {}).get("waste"):
        return Problem("MassBalanceWasteToRegular", {"fromMaterial": frm, "toMaterial": to},
                       "credits moved from waste to regular material")
    return None


def vintage_alive(vintage: int, lapse: int, period: int) -> bool:
    """Credits dated to `vintage` still count in `period` (schemes whose credits lapse after `lapse` periods)."""
    return lapse == 0 or vintage + lapse > period


# ---------------------------------------------------------------------------------------------- certificates
def released_certified(quantity: int, share: int) -> int:
    """Certified attributes a batch pledge takes out of the physical chain."""
    return quantity * share // PPM


def pledge_mismatches(pledge: dict, producer: int, material: int, characteristic: int, amount: int,
                      unit_size: int) -> list[Problem]:
    """An issuance backed by a pledge names its producer, material and characteristic and its exact quantity."""
    out = []
    for name, value in (("producer", producer), ("material", material), ("characteristic", characteristic)):
        if value != pledge[name]:
            out.append(Problem("CertificatePledgeMismatch", {"field": name},
                               f"{name} {value} != pledge's {pledge[name]}"))
    if amount * unit_size != pledge["quantity"]:
        out.append(Problem("CertificatePledgeMismatch", {"field": "amount"},
                           f"{amount} x {unit_size} != pledged {pledge['quantity']}"))
    return out


def retirement_id(certificate_id: int, n: int) -> int:
    """The n-th retirement of a certificate."""
    return (certificate_id << 32) | n


# ---------------------------------------------------------------------------------------------- EUDR
EUDR_NONE, EUDR_TRACEABLE, EUDR_ENDED = 0, 1, 2
EUDR_NOT_SEGREGATED, EUDR_MIXED = 1, 2
ZERO_HASH = b"\x00" * 32


def eudr_origin(model: int, geolocation_hash: bytes) -> tuple[int, int | None]:
    """(status, reason of the EudrTraceabilityEnded it emits or None) of an origin: a plot under a segregated or
    identity-preserved model is traceable; a plot under a weaker model ends at once; no plot is not EUDR material."""
    if isinstance(geolocation_hash, str):
        geolocation_hash = bytes.fromhex(geolocation_hash.removeprefix("0x"))
    if bytes(geolocation_hash) == ZERO_HASH:
        return EUDR_NONE, None
    if model >= SEGREGATED:
        return EUDR_TRACEABLE, None
    return EUDR_ENDED, EUDR_NOT_SEGREGATED


def eudr_derive(model: int, parents: list[int]) -> tuple[int, int | None]:
    """(status, reason of the EudrTraceabilityEnded it emits or None) of a batch made from parents of these
    statuses: traceable only under a segregated or stronger model with every parent traceable; the end is announced
    where a traceable input stops being traceable, and inherited silently after."""
    if EUDR_TRACEABLE not in parents:
        return (EUDR_ENDED if EUDR_ENDED in parents else EUDR_NONE), None
    if model < SEGREGATED:
        return EUDR_ENDED, EUDR_NOT_SEGREGATED
    if any(s != EUDR_TRACEABLE for s in parents):
        return EUDR_ENDED, EUDR_MIXED
    return EUDR_TRACEABLE, None
