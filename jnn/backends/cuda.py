"""``jnn.backends.cuda``: ``matmul.allow_tf32``, torch's older switch for float32 matrix
products: True is ``jnn.set_float32_matmul_precision("high")``, False ``"highest"``; it
reads True for any precision but ``"highest"``, as torch's."""

from __future__ import annotations

from jnn import _precision

__all__ = ["matmul"]


class _Matmul:
    """torch's ``torch.backends.cuda.matmul`` object (its ``cuBLASModule``)."""

    __slots__ = ()

    @property
    def allow_tf32(self) -> bool:
        return _precision.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise RuntimeError("set_allow_tf32_cublas expects a bool, but got "
                               f"{type(value).__name__}")
        _precision.set_float32_matmul_precision("high" if value else "highest")

    def __getattr__(self, name: str) -> None:
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value: object) -> None:
        if name != "allow_tf32":
            raise AttributeError(f"Unknown attribute {name}")
        object.__setattr__(self, name, value)


matmul = _Matmul()
