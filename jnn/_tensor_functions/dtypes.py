"""torch's dtype names, so ``model.to(jnn.float16)`` ports as is."""

import jax.numpy as jnp

float32 = jnp.float32
float16 = jnp.float16
bfloat16 = jnp.bfloat16
float64 = jnp.float64
int32 = jnp.int32
int64 = jnp.int64
bool = jnp.bool_  # noqa: A001 - torch's name

__all__ = ["float32", "float16", "bfloat16", "float64", "int32", "int64", "bool"]
