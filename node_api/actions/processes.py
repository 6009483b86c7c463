"""Reference data: materials, schemes, characteristics, and registered processes with conversion factors."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import U32, U40, ForwardAction, Params

R = "ParticipantRegistry"


class RegisterMaterial(Params):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    unit: Annotated[str, Field(min_length=1, max_length=20)] = "g"
    group: U32 = Field(0, description="conversion-factor group (credits move within a group)")
    waste: bool = False


class RegisterScheme(Params):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    periodLength: U40 = Field(description="balancing period in seconds (ISCC: at most 3 months)")
    anchor: U40 = Field(description="start of period 0 (unix time)")
    lapseAfterPeriods: Annotated[int, Field(ge=0, le=2**16 - 1)] = 0


class RegisterCharacteristic(Params):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scheme: U32


class RegisterProcess(Params):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    inputMaterial: U32
    outputMaterial: U32
    factor: U32 = Field(description="ppm of output per input (850000 = 0.85)")
    tolerance: U32 = Field(description="ppm below the factor an output may still fall")


ACTIONS = [
    ForwardAction("processes", "register-material", R, "registerMaterial", RegisterMaterial,
                  lambda p: (p.name, p.unit, p.group, p.waste), "Register a material", "admin"),
    ForwardAction("processes", "register-scheme", R, "registerScheme", RegisterScheme,
                  lambda p: (p.name, p.periodLength, p.anchor, p.lapseAfterPeriods), "Register a certification scheme", "admin"),
    ForwardAction("processes", "register-characteristic", R, "registerCharacteristic", RegisterCharacteristic,
                  lambda p: (p.name, p.scheme), "Register a sustainability characteristic", "admin"),
    ForwardAction("processes", "register", R, "registerProcess", RegisterProcess,
                  lambda p: (p.name, p.inputMaterial, p.outputMaterial, p.factor, p.tolerance),
                  "Register a process with its conversion factor and tolerance", "admin"),
]
