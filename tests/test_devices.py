"""Arrays on two devices in one computation: torch's RuntimeError, from the eager ``F.*``
and from a compiled step, with the step's state untouched.  (A model on the GPU fed arrays
left on the CPU is the usual case; here, with no GPU, two host devices stand in for it, in a
fresh interpreter, since XLA's host device count is fixed when JAX starts.)"""

import os
import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import re
    import jax, jax.numpy as jnp, numpy as np
    import jnn, jnn.nn as nn, jnn.nn.functional as F

    first, second = jax.devices()[:2]
    model = nn.Linear(3, 2).to(first)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    x_elsewhere = jax.device_put(jnp.ones((4, 3)), second)

    def raises(fn):
        try:
            fn()
        except RuntimeError as error:
            print(type(error).__name__, str(error).split("!")[0] + "!")
        else:
            print("no error")

    raises(lambda: F.linear(x_elsewhere, model.weight, model.bias))
    raises(lambda: model(x_elsewhere))

    @jnn.compile
    def step(x):
        def closure():
            opt.zero_grad()
            return model(x).sum()
        return opt.step(closure)

    x = jax.device_put(jnp.ones((4, 3)), first)
    step(x); step(x)
    before = np.asarray(model.weight).copy()
    raises(lambda: step(x_elsewhere))
    print("unchanged", bool((np.asarray(model.weight) == before).all()))
    step(x)
    print("trains", bool((np.asarray(model.weight) != before).any()))
""")


def test_arrays_on_two_devices_raise_torchs_error_and_change_nothing():
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=os.environ.get("XLA_FLAGS", "")
               + " --xla_force_host_platform_device_count=2")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout.splitlines()
    # torch's words (the two devices in either order, as torch names them as it meets them)
    words = re.compile(r"RuntimeError Expected all tensors to be on the same device, but "
                       r"found at least two devices, (cpu|cpu:1) and (cpu|cpu:1)!")
    for line in out[:3]:
        found = words.fullmatch(line)
        assert found and found[1] != found[2], out
    assert out[3:] == ["unchanged True", "trains True"], out
