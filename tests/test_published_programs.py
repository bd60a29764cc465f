"""Published PyTorch programs (github.com/pytorch/examples), ported to jnn, run against torch.

* ``mnist/main.py``: Conv2d, Dropout, max_pool2d, log_softmax, nll_loss; trained with SGD
  (lr=0.01, momentum=0.5: the program's optimizer before it moved to Adadelta, which jnn
  does not have) and its ``StepLR(step_size=1, gamma=0.7)``.
* ``dcgan/main.py``: the Generator (ConvTranspose2d, BatchNorm2d, ReLU, Tanh) and the
  Discriminator (Conv2d, LeakyReLU, Sigmoid) with ``weights_init``, BCELoss, and the
  two-optimizer GAN step (Adam, betas=(0.5, 0.999)).
* ``super_resolution/model.py``: Conv2d + PixelShuffle, orthogonal initialisation.
* ``fast_neural_style/neural_style/transformer_net.py``: ReflectionPad2d, InstanceNorm2d,
  residual blocks, nearest ``interpolate``.
* ``word_language_model/model.py`` and ``main.py``: the RNNModel (Embedding, LSTM or GRU,
  Dropout, Linear, log_softmax; tied weights), ``batchify``, ``repackage_hidden``,
  ``get_batch``, ``evaluate`` (eval mode, ``no_grad``), train()'s batch body (NLLLoss,
  ``clip_grad_norm_``, the manual SGD update ``p.data.add_(p.grad, alpha=-lr)``) and the
  epoch loop's ``lr /= 4.0``; the Transformer model and its branches are left out (jnn has
  no ``nn.Transformer``), and so is the file I/O.

Each program is written twice, inside a function per library: the torch text as published
(the sizes its command line sets made small: DCGAN's nz = ngf = ndf = 8; a training loop's
body taken out as a step function of one batch, its data passed in) and the jnn port.  The
models start from torch's weights (its state_dict), and outputs, gradients (of inputs and
every parameter) and, for MNIST, DCGAN and the word language model, its training steps --
eager and under ``jnn.compile`` -- are compared with torch (the language model's published
text marks its long lines ``# noqa: E501``).

Porting.  The jnn port is the torch text with the name ``torch`` replaced by ``jnn`` (the
imports) and the lines below changed, nothing else (blank lines and indentation aside);
``test_port_changes_only_the_listed_lines`` holds this list to the code.  ``-`` is torch's
line, ``+`` the port's, in the order of the programs' text:

[mnist] A jax.Array has .reshape but no torch.flatten (so ``import torch`` goes).
``loss.backward()`` and ``optimizer.step()`` become a closure that ``optimizer.step``
differentiates:
- import torch
- x = torch.flatten(x, 1)
+ x = x.reshape(x.shape[0], -1)
+ def closure():
- loss.backward()
- optimizer.step()
+ return optimizer.step(closure)

[dcgan] ``jnp`` for arrays (jnn has no torch.full).  No DataParallel and no ``.is_cuda``: the
multi-GPU branch goes (twice).  A jax.Array has .shape, not .size(), and .reshape, not .view;
it is immutable, so the fake label is built, not filled.  The two backward()/step() pairs
become one closure per optimizer, returning the statistics the program printed
(``.item()`` reads the host, which a compiled step cannot; the step returns arrays).
``fake`` is computed outside D's closure, so it is a constant there (``.detach()`` goes).
G's closure must run G again to differentiate it; it does so through
``jnn.func.functional_call`` with G's buffers in a throwaway dict, so that G's BatchNorm
statistics move once per step, as torch's single forward moves them (the call reads G's
parameters, which the closure differentiates):
+ import jax.numpy as jnp
- if input.is_cuda and self.ngpu > 1:
- output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
- else:
- if input.is_cuda and self.ngpu > 1:
- output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
- else:
- return output.view(-1, 1).squeeze(1)
+ return output.reshape(-1, 1).squeeze(1)
- batch_size = real_cpu.size(0)
+ batch_size = real_cpu.shape[0]
- label = torch.full((batch_size,), real_label,
+ label = jnp.full((batch_size,), real_label,
+ fake = netG(noise)
+ def closureD():
- errD_real.backward()
- D_x = output.mean().item()
+ D_x = output.mean()
- fake = netG(noise)
- label.fill_(fake_label)
- output = netD(fake.detach())
+ output = netD(fake)
+ errD_fake = criterion(output, jnp.full_like(label, fake_label))
- errD_fake = criterion(output, label)
- errD_fake.backward()
- D_G_z1 = output.mean().item()
+ D_G_z1 = output.mean()
- errD = errD_real + errD_fake
- optimizerD.step()
+ return errD_real + errD_fake, (D_x, D_G_z1)
+ errD, (D_x, D_G_z1) = optimizerD.step(closureD)
- label.fill_(real_label)  # fake labels are real for generator cost
+ def closureG():
+ fake = jnn.func.functional_call(netG, dict(netG.named_buffers()), noise)
+ return errG, output.mean()
+ errG, D_G_z2 = optimizerG.step(closureG)
- errG.backward()
- D_G_z2 = output.mean().item()
- optimizerG.step()
- return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2
+ return errD, errG, D_x, D_G_z1, D_G_z2

[super_resolution] Nothing.

[fast_neural_style] Nothing.

[word_language_model] ``import jax`` for ``jax.Array``: jnn has no ``Tensor`` class
(``repackage_hidden``'s ``isinstance``; the hidden state is a ``jax.Array`` and
``jnn.detach`` is ``h.detach()``).  A jax.Array has .shape, not .size(), .reshape, not
.view/.t()/.contiguous() (``.T``), and no .narrow (``jnn.narrow``) or .to
(``jnn.as_tensor(data, device=device)``).  ``loss.backward()`` becomes a closure for
``jnn.autograd.backward``, which returns the new hidden state with the loss (the closure
names it apart: ``hidden`` is the repackaged state it reads); ``p.data.add_`` becomes the
Parameter's own ``add_`` under ``jnn.no_grad()`` (a ``.data`` is an immutable array):
+ import jax
- decoded = decoded.view(-1, self.ntoken)
+ decoded = decoded.reshape(-1, self.ntoken)
- nbatch = data.size(0) // bsz
+ nbatch = data.shape[0] // bsz
- data = data.narrow(0, 0, nbatch * bsz)
+ data = jnn.narrow(data, 0, 0, nbatch * bsz)
- data = data.view(bsz, -1).t().contiguous()
- return data.to(device)
+ data = data.reshape(bsz, -1).T
+ return jnn.as_tensor(data, device=device)
- if isinstance(h, torch.Tensor):
+ if isinstance(h, jax.Array):
- return h.detach()
+ return jnn.detach(h)
- target = source[i+1:i+1+seq_len].view(-1)
+ target = source[i+1:i+1+seq_len].reshape(-1)
- for i in range(0, data_source.size(0) - 1, bptt):
+ for i in range(0, data_source.shape[0] - 1, bptt):
+ def closure():
- output, hidden = model(data, hidden)
+ output, new_hidden = model(data, hidden)
- loss.backward()
+ return loss, new_hidden
+ loss, hidden = jnn.autograd.backward(closure)
+ with jnn.no_grad():
- p.data.add_(p.grad, alpha=-lr)
+ p.add_(p.grad, alpha=-lr)
"""

# The published programs keep their text, ``super(Class, self).__init__()`` included.
# ruff: noqa: UP008

import difflib
import inspect
import io
import re
import tokenize
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
from tests.oracle import check_modules, uniform
from tests.test_seed_programs import (
    _assert_adam_states_match,
    _assert_close,
    _check_step,
    _fan_in_atol,
    _load_torch_state,
)

BATCH, STEPS = 4, 3
# check_modules' checks beyond eager: ``jit`` (forward and gradients as one program, half
# the CPU time of the eager gradients here) and ``copy`` (deepcopy, pickle) run; the others
# would each run a whole network again, and what they check is here already or per layer.
ORACLE = {"skip_checks": {
    "compile": "the MNIST and DCGAN tests below compile whole training steps",
    "step": "the MNIST and DCGAN tests below train whole programs against torch",
    "bfloat16": "a whole network again per dtype; tests/nn checks dtypes layer by layer",
    "float64": "a whole network again per dtype; tests/nn checks dtypes layer by layer",
}}


# -- mnist/main.py ---------------------------------------------------------------------
def _torch_mnist():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def train_step(model, optimizer, data, target):  # the body of train()'s batch loop
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        return loss

    def make_optimizer(model, lr=0.01, momentum=0.5, gamma=0.7):
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        scheduler = StepLR(optimizer, step_size=1, gamma=gamma)
        return optimizer, scheduler

    return SimpleNamespace(**locals())


def _jnn_mnist():
    import jnn.nn as nn
    import jnn.nn.functional as F
    import jnn.optim as optim
    from jnn.optim.lr_scheduler import StepLR

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = x.reshape(x.shape[0], -1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def train_step(model, optimizer, data, target):  # the body of train()'s batch loop
        def closure():
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            return loss
        return optimizer.step(closure)

    def make_optimizer(model, lr=0.01, momentum=0.5, gamma=0.7):
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        scheduler = StepLR(optimizer, step_size=1, gamma=gamma)
        return optimizer, scheduler

    return SimpleNamespace(**locals())


# -- dcgan/main.py ---------------------------------------------------------------------
def _torch_dcgan():
    import torch
    import torch.backends.cudnn as cudnn
    import torch.nn as nn
    import torch.optim as optim

    cudnn.benchmark = True

    nz, ngf, ndf, nc = 8, 8, 8, 3  # the command line's --nz, --ngf, --ndf (100, 64, 64)
    real_label = 1
    fake_label = 0

    # custom weights initialization called on netG and netD
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find('BatchNorm') != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is Z, going into a convolution
                nn.ConvTranspose2d(     nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8),
                nn.ReLU(True),
                # state size. (ngf*8) x 4 x 4
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                # state size. (ngf*4) x 8 x 8
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                # state size. (ngf*2) x 16 x 16
                nn.ConvTranspose2d(ngf * 2,     ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                # state size. (ngf) x 32 x 32
                nn.ConvTranspose2d(    ngf,      nc, 4, 2, 1, bias=False),
                nn.Tanh()
                # state size. (nc) x 64 x 64
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)
            return output

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is (nc) x 64 x 64
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf) x 32 x 32
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*2) x 16 x 16
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*4) x 8 x 8
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*8) x 4 x 4
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
                nn.Sigmoid()
            )

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            else:
                output = self.main(input)

            return output.view(-1, 1).squeeze(1)

    def make_optimizers(netD, netG, lr=0.0002, beta1=0.5):
        optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
        optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
        return optimizerD, optimizerG

    def train_step(netD, netG, criterion, optimizerD, optimizerG, real_cpu, noise):
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label,
                           dtype=real_cpu.dtype)

        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        # train with fake
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()

        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        netG.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2

    return SimpleNamespace(**locals())


def _jnn_dcgan():
    import jax.numpy as jnp

    import jnn
    import jnn.backends.cudnn as cudnn
    import jnn.nn as nn
    import jnn.optim as optim

    cudnn.benchmark = True

    nz, ngf, ndf, nc = 8, 8, 8, 3  # the command line's --nz, --ngf, --ndf (100, 64, 64)
    real_label = 1
    fake_label = 0

    # custom weights initialization called on netG and netD
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find('Conv') != -1:
            jnn.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find('BatchNorm') != -1:
            jnn.nn.init.normal_(m.weight, 1.0, 0.02)
            jnn.nn.init.zeros_(m.bias)

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super(Generator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is Z, going into a convolution
                nn.ConvTranspose2d(     nz, ngf * 8, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 8),
                nn.ReLU(True),
                # state size. (ngf*8) x 4 x 4
                nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 4),
                nn.ReLU(True),
                # state size. (ngf*4) x 8 x 8
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                # state size. (ngf*2) x 16 x 16
                nn.ConvTranspose2d(ngf * 2,     ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                # state size. (ngf) x 32 x 32
                nn.ConvTranspose2d(    ngf,      nc, 4, 2, 1, bias=False),
                nn.Tanh()
                # state size. (nc) x 64 x 64
            )

        def forward(self, input):
            output = self.main(input)
            return output

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super(Discriminator, self).__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                # input is (nc) x 64 x 64
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf) x 32 x 32
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*2) x 16 x 16
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 4),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*4) x 8 x 8
                nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 8),
                nn.LeakyReLU(0.2, inplace=True),
                # state size. (ndf*8) x 4 x 4
                nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
                nn.Sigmoid()
            )

        def forward(self, input):
            output = self.main(input)

            return output.reshape(-1, 1).squeeze(1)

    def make_optimizers(netD, netG, lr=0.0002, beta1=0.5):
        optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=(beta1, 0.999))
        optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=(beta1, 0.999))
        return optimizerD, optimizerG

    def train_step(netD, netG, criterion, optimizerD, optimizerG, real_cpu, noise):
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        batch_size = real_cpu.shape[0]
        label = jnp.full((batch_size,), real_label,
                         dtype=real_cpu.dtype)
        fake = netG(noise)

        def closureD():
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            D_x = output.mean()

            # train with fake
            output = netD(fake)
            errD_fake = criterion(output, jnp.full_like(label, fake_label))
            D_G_z1 = output.mean()
            return errD_real + errD_fake, (D_x, D_G_z1)

        errD, (D_x, D_G_z1) = optimizerD.step(closureD)

        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        netG.zero_grad()

        def closureG():
            fake = jnn.func.functional_call(netG, dict(netG.named_buffers()), noise)
            output = netD(fake)
            errG = criterion(output, label)
            return errG, output.mean()

        errG, D_G_z2 = optimizerG.step(closureG)
        return errD, errG, D_x, D_G_z1, D_G_z2

    return SimpleNamespace(**locals())


# -- super_resolution/model.py ---------------------------------------------------------
def _torch_super_resolution():
    import torch.nn as nn
    import torch.nn.init as init

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super(Net, self).__init__()

            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

            self._initialize_weights()

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            x = self.pixel_shuffle(self.conv4(x))
            return x

        def _initialize_weights(self):
            init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv4.weight)

    return SimpleNamespace(**locals())


def _jnn_super_resolution():
    import jnn.nn as nn
    import jnn.nn.init as init

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super(Net, self).__init__()

            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

            self._initialize_weights()

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            x = self.pixel_shuffle(self.conv4(x))
            return x

        def _initialize_weights(self):
            init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
            init.orthogonal_(self.conv4.weight)

    return SimpleNamespace(**locals())


# -- fast_neural_style/neural_style/transformer_net.py ---------------------------------
def _torch_fast_neural_style():
    import torch

    class TransformerNet(torch.nn.Module):
        def __init__(self):
            super(TransformerNet, self).__init__()
            # Initial convolution layers
            self.conv1 = ConvLayer(3, 32, kernel_size=9, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(32, affine=True)
            self.conv2 = ConvLayer(32, 64, kernel_size=3, stride=2)
            self.in2 = torch.nn.InstanceNorm2d(64, affine=True)
            self.conv3 = ConvLayer(64, 128, kernel_size=3, stride=2)
            self.in3 = torch.nn.InstanceNorm2d(128, affine=True)
            # Residual layers
            self.res1 = ResidualBlock(128)
            self.res2 = ResidualBlock(128)
            self.res3 = ResidualBlock(128)
            self.res4 = ResidualBlock(128)
            self.res5 = ResidualBlock(128)
            # Upsampling Layers
            self.deconv1 = UpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
            self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
            self.deconv2 = UpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
            self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
            self.deconv3 = ConvLayer(32, 3, kernel_size=9, stride=1)
            # Non-linearities
            self.relu = torch.nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res1(y)
            y = self.res2(y)
            y = self.res3(y)
            y = self.res4(y)
            y = self.res5(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            y = self.deconv3(y)
            return y

    class ConvLayer(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super(ConvLayer, self).__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            out = self.reflection_pad(x)
            out = self.conv2d(out)
            return out

    class ResidualBlock(torch.nn.Module):
        """ResidualBlock
        introduced in: https://arxiv.org/abs/1512.03385
        recommended architecture: http://torch.ch/blog/2016/02/04/resnets.html
        """

        def __init__(self, channels):
            super(ResidualBlock, self).__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.relu = torch.nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            out = out + residual
            return out

    class UpsampleConvLayer(torch.nn.Module):
        """UpsampleConvLayer
        Upsamples the input and then does a convolution. This method gives better results
        compared to ConvTranspose2d.
        ref: http://distill.pub/2016/deconv-checkerboard/
        """

        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super(UpsampleConvLayer, self).__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = torch.nn.functional.interpolate(x_in, mode='nearest',
                                                       scale_factor=self.upsample)
            out = self.reflection_pad(x_in)
            out = self.conv2d(out)
            return out

    return SimpleNamespace(**locals())


def _jnn_fast_neural_style():
    import jnn

    class TransformerNet(jnn.nn.Module):
        def __init__(self):
            super(TransformerNet, self).__init__()
            # Initial convolution layers
            self.conv1 = ConvLayer(3, 32, kernel_size=9, stride=1)
            self.in1 = jnn.nn.InstanceNorm2d(32, affine=True)
            self.conv2 = ConvLayer(32, 64, kernel_size=3, stride=2)
            self.in2 = jnn.nn.InstanceNorm2d(64, affine=True)
            self.conv3 = ConvLayer(64, 128, kernel_size=3, stride=2)
            self.in3 = jnn.nn.InstanceNorm2d(128, affine=True)
            # Residual layers
            self.res1 = ResidualBlock(128)
            self.res2 = ResidualBlock(128)
            self.res3 = ResidualBlock(128)
            self.res4 = ResidualBlock(128)
            self.res5 = ResidualBlock(128)
            # Upsampling Layers
            self.deconv1 = UpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
            self.in4 = jnn.nn.InstanceNorm2d(64, affine=True)
            self.deconv2 = UpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
            self.in5 = jnn.nn.InstanceNorm2d(32, affine=True)
            self.deconv3 = ConvLayer(32, 3, kernel_size=9, stride=1)
            # Non-linearities
            self.relu = jnn.nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res1(y)
            y = self.res2(y)
            y = self.res3(y)
            y = self.res4(y)
            y = self.res5(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            y = self.deconv3(y)
            return y

    class ConvLayer(jnn.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super(ConvLayer, self).__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = jnn.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = jnn.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            out = self.reflection_pad(x)
            out = self.conv2d(out)
            return out

    class ResidualBlock(jnn.nn.Module):
        """ResidualBlock
        introduced in: https://arxiv.org/abs/1512.03385
        recommended architecture: http://torch.ch/blog/2016/02/04/resnets.html
        """

        def __init__(self, channels):
            super(ResidualBlock, self).__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = jnn.nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = jnn.nn.InstanceNorm2d(channels, affine=True)
            self.relu = jnn.nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            out = out + residual
            return out

    class UpsampleConvLayer(jnn.nn.Module):
        """UpsampleConvLayer
        Upsamples the input and then does a convolution. This method gives better results
        compared to ConvTranspose2d.
        ref: http://distill.pub/2016/deconv-checkerboard/
        """

        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super(UpsampleConvLayer, self).__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = jnn.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = jnn.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = jnn.nn.functional.interpolate(x_in, mode='nearest',
                                                     scale_factor=self.upsample)
            out = self.reflection_pad(x_in)
            out = self.conv2d(out)
            return out

    return SimpleNamespace(**locals())


# -- word_language_model/model.py and main.py ------------------------------------------
def _torch_word_language_model():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    bptt, clip = 5, 0.25  # the command line's --bptt (35) and --clip
    device = torch.device("cpu")
    criterion = nn.NLLLoss()

    class RNNModel(nn.Module):
        """Container module with an encoder, a recurrent module, and a decoder."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super(RNNModel, self).__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ['LSTM', 'GRU']:
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                try:
                    nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
                except KeyError as e:
                    raise ValueError( """An invalid option for `--model` was supplied,
                                     options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']""") from e  # noqa: E501
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)

            # Optionally tie weights as in:
            # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
            # https://arxiv.org/abs/1608.05859
            # and
            # "Tying Word Vectors and Word Classifiers: A Loss Framework for Language Modeling" (Inan et al. 2016)  # noqa: E501
            # https://arxiv.org/abs/1611.01462
            if tie_weights:
                if nhid != ninp:
                    raise ValueError('When using the tied flag, nhid must be equal to emsize')
                self.decoder.weight = self.encoder.weight

            self.init_weights()

            self.rnn_type = rnn_type
            self.nhid = nhid
            self.nlayers = nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == 'LSTM':
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            else:
                return weight.new_zeros(self.nlayers, bsz, self.nhid)

    def batchify(data, bsz):
        # Work out how cleanly we can divide the dataset into bsz parts.
        nbatch = data.size(0) // bsz
        # Trim off any extra elements that wouldn't cleanly fit (remainders).
        data = data.narrow(0, 0, nbatch * bsz)
        # Evenly divide the data across the bsz batches.
        data = data.view(bsz, -1).t().contiguous()
        return data.to(device)

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""

        if isinstance(h, torch.Tensor):
            return h.detach()
        else:
            return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i+seq_len]
        target = source[i+1:i+1+seq_len].view(-1)
        return data, target

    def evaluate(model, data_source, eval_batch_size):
        # Turn on evaluation mode which disables dropout.
        model.eval()
        total_loss = 0.
        hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, bptt):
                data, targets = get_batch(data_source, i)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    def train_step(model, hidden, data, targets, lr):  # the body of train()'s batch loop
        # Starting each batch, we detach the hidden state from how it was previously produced.
        # If we didn't, the model would try backpropagating all the way to start of the dataset.
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()

        # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        return loss, hidden

    def end_of_epoch(lr, val_loss, best_val_loss):  # the epoch loop's tail, saving aside
        if not best_val_loss or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            # Anneal the learning rate if no improvement has been seen in the validation dataset.
            lr /= 4.0
        return lr, best_val_loss

    return SimpleNamespace(**locals())



# -- word_language_model/model.py and main.py ------------------------------------------
def _jnn_word_language_model():
    import jax

    import jnn
    import jnn.nn as nn
    import jnn.nn.functional as F

    bptt, clip = 5, 0.25  # the command line's --bptt (35) and --clip
    device = jnn.device("cpu")
    criterion = nn.NLLLoss()

    class RNNModel(nn.Module):
        """Container module with an encoder, a recurrent module, and a decoder."""

        def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
            super(RNNModel, self).__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ['LSTM', 'GRU']:
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                try:
                    nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
                except KeyError as e:
                    raise ValueError( """An invalid option for `--model` was supplied,
                                     options are ['LSTM', 'GRU', 'RNN_TANH' or 'RNN_RELU']""") from e  # noqa: E501
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)

            # Optionally tie weights as in:
            # "Using the Output Embedding to Improve Language Models" (Press & Wolf 2016)
            # https://arxiv.org/abs/1608.05859
            # and
            # "Tying Word Vectors and Word Classifiers: A Loss Framework for Language Modeling" (Inan et al. 2016)  # noqa: E501
            # https://arxiv.org/abs/1611.01462
            if tie_weights:
                if nhid != ninp:
                    raise ValueError('When using the tied flag, nhid must be equal to emsize')
                self.decoder.weight = self.encoder.weight

            self.init_weights()

            self.rnn_type = rnn_type
            self.nhid = nhid
            self.nlayers = nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.reshape(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == 'LSTM':
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            else:
                return weight.new_zeros(self.nlayers, bsz, self.nhid)

    def batchify(data, bsz):
        # Work out how cleanly we can divide the dataset into bsz parts.
        nbatch = data.shape[0] // bsz
        # Trim off any extra elements that wouldn't cleanly fit (remainders).
        data = jnn.narrow(data, 0, 0, nbatch * bsz)
        # Evenly divide the data across the bsz batches.
        data = data.reshape(bsz, -1).T
        return jnn.as_tensor(data, device=device)

    def repackage_hidden(h):
        """Wraps hidden states in new Tensors, to detach them from their history."""

        if isinstance(h, jax.Array):
            return jnn.detach(h)
        else:
            return tuple(repackage_hidden(v) for v in h)

    def get_batch(source, i):
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i:i+seq_len]
        target = source[i+1:i+1+seq_len].reshape(-1)
        return data, target

    def evaluate(model, data_source, eval_batch_size):
        # Turn on evaluation mode which disables dropout.
        model.eval()
        total_loss = 0.
        hidden = model.init_hidden(eval_batch_size)
        with jnn.no_grad():
            for i in range(0, data_source.shape[0] - 1, bptt):
                data, targets = get_batch(data_source, i)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
        return total_loss / (len(data_source) - 1)

    def train_step(model, hidden, data, targets, lr):  # the body of train()'s batch loop
        # Starting each batch, we detach the hidden state from how it was previously produced.
        # If we didn't, the model would try backpropagating all the way to start of the dataset.
        model.zero_grad()
        hidden = repackage_hidden(hidden)

        def closure():
            output, new_hidden = model(data, hidden)
            loss = criterion(output, targets)
            return loss, new_hidden
        loss, hidden = jnn.autograd.backward(closure)

        # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
        jnn.nn.utils.clip_grad_norm_(model.parameters(), clip)
        with jnn.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
        return loss, hidden

    def end_of_epoch(lr, val_loss, best_val_loss):  # the epoch loop's tail, saving aside
        if not best_val_loss or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            # Anneal the learning rate if no improvement has been seen in the validation dataset.
            lr /= 4.0
        return lr, best_val_loss

    return SimpleNamespace(**locals())


PROGRAMS = {
    "mnist": (_torch_mnist, _jnn_mnist),
    "dcgan": (_torch_dcgan, _jnn_dcgan),
    "super_resolution": (_torch_super_resolution, _jnn_super_resolution),
    "fast_neural_style": (_torch_fast_neural_style, _jnn_fast_neural_style),
    "word_language_model": (_torch_word_language_model, _jnn_word_language_model),
}
# Each program once per library.  The classes are local to their function; naming them by
# where they are reachable from here (``JNN.mnist.Net``) lets pickle find them.
TORCH = SimpleNamespace(**{name: fns[0]() for name, fns in PROGRAMS.items()})
JNN = SimpleNamespace(**{name: fns[1]() for name, fns in PROGRAMS.items()})
for _name, _program in vars(JNN).items():
    for _value in vars(_program).values():
        if isinstance(_value, type) and _value.__module__ == __name__:
            _value.__qualname__ = f"JNN.{_name}.{_value.__name__}"


# -- the port's diff -------------------------------------------------------------------
def _code_lines(fn, rename=False):
    """``fn``'s body as stripped, non-blank lines; ``rename``: the name ``torch`` -> ``jnn``
    (Python names only: ``torch.ch`` in a docstring's URL stays)."""
    source = inspect.getsource(fn)
    lines = source.splitlines()
    if rename:
        names = [t.start for t in tokenize.generate_tokens(io.StringIO(source).readline)
                 if t.type == tokenize.NAME and t.string == "torch"]
        for row, col in sorted(names, reverse=True):
            line = lines[row - 1]
            lines[row - 1] = line[:col] + "jnn" + line[col + len("torch"):]
    return [line.strip() for line in lines[1:] if line.strip()]


def _port_diff(name):
    torch_fn, jnn_fn = PROGRAMS[name]
    diff = difflib.ndiff(_code_lines(torch_fn, rename=True), _code_lines(jnn_fn))
    return [line for line in diff if line[:2] in ("- ", "+ ")]


def _documented_diff(name):
    """The ``-``/``+`` lines listed under ``[name]`` in this module's docstring (torch's
    lines renamed as :func:`_code_lines` renames them)."""
    section = __doc__.split(f"[{name}]", 1)[1].split("\n[", 1)[0]
    lines = [(line[0], line[1:].strip()) for line in section.splitlines()
             if line[:1] in ("-", "+")]
    torch_name = re.compile(r"\btorch\b")
    return [f"{sign} {torch_name.sub('jnn', text) if sign == '-' else text}"
            for sign, text in lines]


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_port_changes_only_the_listed_lines(name):
    assert _port_diff(name) == _documented_diff(name)


# -- the programs against torch --------------------------------------------------------
def _programs(name):
    return getattr(TORCH, name), getattr(JNN, name)


def _twins(build_torch, build_jnn):
    torch.manual_seed(0)
    t_model, model = build_torch(), build_jnn()
    _load_torch_state(t_model, model)
    return t_model, model


def test_mnist_net_matches_torch():
    t, j = _programs("mnist")
    torch.manual_seed(0)
    # eval: the two Dropout layers are the identity (their masks are each library's own)
    check_modules(t.Net(), j.Net(), [(BATCH, 1, 28, 28)], modes=("eval",), **ORACLE)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_mnist_trains_like_torch(compiled):
    """Three batches of train(), each followed by the epoch's ``scheduler.step()``."""
    t, j = _programs("mnist")
    t_model, model = _twins(t.Net, j.Net)
    for m in (t_model, model):  # dropout masks differ between the libraries
        m.dropout1.p = m.dropout2.p = 0.0
    t_optimizer, t_scheduler = t.make_optimizer(t_model)
    optimizer, scheduler = j.make_optimizer(model)
    step = jnn.compile(j.train_step) if compiled else j.train_step
    atol = _fan_in_atol(t_model)
    rng = np.random.default_rng(0)
    for i in range(STEPS):
        data = rng.standard_normal((BATCH, 1, 28, 28), dtype=np.float32)
        target = rng.integers(0, 10, BATCH)
        t_loss = t.train_step(t_model, t_optimizer, torch.from_numpy(data),
                              torch.from_numpy(target))
        loss = step(model, optimizer, jnp.asarray(data), jnp.asarray(target))
        np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-5, atol=atol,
                                   err_msg=f"step {i}")
        _check_step(t_model, model, atol, f"step {i}")  # SGD: the whole trajectory
        t_scheduler.step()
        scheduler.step()
        assert scheduler.get_last_lr() == t_scheduler.get_last_lr()
    _assert_close(optimizer.state_dict()["state"][0]["momentum_buffer"],
                  t_optimizer.state_dict()["state"][0]["momentum_buffer"].numpy(), atol,
                  "conv1.weight's momentum_buffer")
    if compiled:
        assert step.trace_count == 1  # the momentum buffers start as placeholders: one trace


def _dcgan_twins(t, j):
    models = []
    for lib in (t, j):
        torch.manual_seed(0)
        netG, netD = lib.Generator(1), lib.Discriminator(1)
        netG.apply(lib.weights_init)
        netD.apply(lib.weights_init)
        models.append((netG, netD))
    (t_netG, t_netD), (netG, netD) = models
    _load_torch_state(t_netG, netG)
    _load_torch_state(t_netD, netD)
    return t_netG, t_netD, netG, netD


def test_dcgan_models_match_torch():
    t, j = _programs("dcgan")
    t_netG, t_netD, netG, netD = _dcgan_twins(t, j)
    # weights_init, as jnn ran it, drew N(0, 0.02) convolutions and N(1, 0.02) BN scales
    conv = np.asarray(j.Generator(1).apply(j.weights_init).main[0].weight.data)
    assert abs(conv.std() - 0.02) < 0.002 and abs(conv.mean()) < 0.002
    # Train mode only: the program never evaluates (BatchNorm's eval path is in tests/nn).
    # G's weight gradients sum over the 4 x 64 x 64 output positions and reach O(175):
    # their float32 rounding, about 1e-6 of that scale (measured: 2.1e-4), sets atol; the
    # tanh outputs agree to 2e-7.
    check_modules(t_netG, netG, [(BATCH, j.nz, 1, 1)], modes=("train",), load=False,
                  atol=4e-4, **ORACLE)
    check_modules(t_netD, netD, [uniform(BATCH, j.nc, 64, 64, low=-1.0)], modes=("train",),
                  load=False, **ORACLE)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_dcgan_trains_like_torch(compiled):
    """Three iterations of the GAN loop; Adam, so each compares one step from equal states
    (see tests/test_seed_programs.py (f)): the five printed statistics, then every
    ``.grad`` (D's hold errD's gradient plus errG's, as in torch), parameter and BatchNorm
    buffer of both networks; then jnn takes torch's weights and keeps its Adam state."""
    t, j = _programs("dcgan")
    t_netG, t_netD, netG, netD = _dcgan_twins(t, j)
    t_optimizers = t.make_optimizers(t_netD, t_netG)
    optimizers = j.make_optimizers(netD, netG)
    t_criterion, criterion = torch.nn.BCELoss(), jnn.nn.BCELoss()
    step = jnn.compile(j.train_step) if compiled else j.train_step
    atol, lr = max(_fan_in_atol(t_netD), _fan_in_atol(t_netG)), 0.0002
    noisy_D, noisy_G = {}, {}
    rng = np.random.default_rng(0)
    for i in range(STEPS):
        real = rng.uniform(-1, 1, (BATCH, j.nc, 64, 64)).astype(np.float32)
        noise = rng.standard_normal((BATCH, j.nz, 1, 1), dtype=np.float32)
        expected = t.train_step(t_netD, t_netG, t_criterion, *t_optimizers,
                                torch.from_numpy(real), torch.from_numpy(noise))
        got = step(netD, netG, criterion, *optimizers, jnp.asarray(real),
                   jnp.asarray(noise))
        np.testing.assert_allclose([float(v) for v in got], expected, rtol=1e-5, atol=atol,
                                   err_msg=f"step {i}: errD, errG, D_x, D_G_z1, D_G_z2")
        n_noisy = sum(_check_step(t_net, net, atol, f"step {i}: {name}", noisy,
                                  adam=(lr, (0.5, 0.999)))
                      for name, t_net, net, noisy in [("netD", t_netD, netD, noisy_D),
                                                      ("netG", t_netG, netG, noisy_G)])
        _load_torch_state(t_netD, netD)
        _load_torch_state(t_netG, netG)
    for t_optimizer, optimizer in zip(t_optimizers, optimizers):
        _assert_adam_states_match(t_optimizer, optimizer, atol)
    n_params = sum(p.numel() for net in (t_netD, t_netG) for p in net.parameters())
    assert n_noisy < n_params * 5e-3, n_noisy  # see tests/test_seed_programs.py (f)
    # torch's loop runs G once and D three times per iteration
    assert int(netG.main[1].num_batches_tracked) == STEPS
    assert int(netD.main[3].num_batches_tracked) == 3 * STEPS
    if compiled:
        assert step.trace_count == 1  # Adam's state starts as placeholders: one trace


def test_super_resolution_net_matches_torch():
    t, j = _programs("super_resolution")
    torch.manual_seed(0)
    t_model, model = t.Net(upscale_factor=3), j.Net(upscale_factor=3)
    w = np.asarray(model.conv2.weight.data).reshape(64, -1)  # jnn's orthogonal_, gain √2
    np.testing.assert_allclose(w @ w.T, 2 * np.eye(64), atol=1e-4)
    t_out, out = check_modules(t_model, model, [(BATCH, 1, 8, 8)], modes=("train",),
                               **ORACLE)
    assert out[0].shape == (BATCH, 1, 24, 24)


def test_fast_neural_style_net_matches_torch():
    t, j = _programs("fast_neural_style")
    torch.manual_seed(0)
    # Weight gradients sum over the batch's 2 x 16 x 16 positions, through up to 13 convolutions
    # and 15 instance norms, and reach O(100) (conv1's: 104): their float32 rounding, a few
    # 1e-6 of that scale (measured: 3.7e-4 at most), sets atol; the O(1) outputs agree to 5e-6.
    t_out, out = check_modules(t.TransformerNet(), j.TransformerNet(), [(2, 3, 16, 16)],
                               modes=("train",), atol=5e-4, **ORACLE)
    assert out[0].shape == (2, 3, 16, 16)


# word_language_model: a 20-token vocabulary, emsize = nhid = 8 (tie_weights needs them
# equal), two layers; dropout 0 so that both libraries compute the same function.
WLM_SIZES = dict(ntoken=20, ninp=8, nhid=8, nlayers=2, dropout=0.0)
WLM_EPOCHS, WLM_EVAL_BATCH = 4, 2


def _wlm_twins(t, j, rnn_type, tied):
    models = []
    for lib in (t, j):
        torch.manual_seed(0)
        # (main.py: ``.to(device)``: on a GPU machine jnn would otherwise make the model on
        # the GPU, and its CPU batches raise torch's same-device error)
        models.append(lib.RNNModel(rnn_type, **WLM_SIZES, tie_weights=tied).to(lib.device))
    t_model, model = models
    _load_torch_state(t_model, model)
    return t_model, model


def _assert_hidden_close(hidden, t_hidden, atol, what):
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    t_hidden = t_hidden if isinstance(t_hidden, tuple) else (t_hidden,)
    assert len(hidden) == len(t_hidden), what
    for h, t_h in zip(hidden, t_hidden):
        _assert_close(h, t_h.detach().numpy(), atol, what)


@pytest.mark.parametrize("rnn_type, tied", [("LSTM", False), ("GRU", True)],
                         ids=["LSTM", "GRU-tied"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_word_language_model_trains_like_torch(rnn_type, tied, compiled):
    """Two epochs of main.py's loop: three batches of train() (the hidden state carried
    across them and repackaged, clip_grad_norm_, the manual SGD update at --lr 20), then
    evaluate() on a validation stream whose last batch is one token long, then the lr
    annealing; loss, hidden state, every ``.grad`` and parameter after each step, and each
    epoch's validation loss and lr, against torch."""
    t, j = _programs("word_language_model")
    t_model, model = _wlm_twins(t, j, rnn_type, tied)
    if tied:  # one Parameter, listed once (as torch's parameters() lists it)
        assert model.decoder.weight is model.encoder.weight
        assert len(list(model.parameters())) == len(list(t_model.parameters()))
    step = jnn.compile(j.train_step) if compiled else j.train_step
    atol = _fan_in_atol(t_model)
    rng = np.random.default_rng(1)  # (the streams for which epoch 3's loss gets worse)
    train_stream = rng.integers(0, WLM_SIZES["ntoken"], 3 * j.bptt * BATCH + BATCH + 3)
    val_stream = rng.integers(0, WLM_SIZES["ntoken"], 24)
    t_train, t_val = (t.batchify(torch.from_numpy(s), b)
                      for s, b in [(train_stream, BATCH), (val_stream, WLM_EVAL_BATCH)])
    train_data, val_data = (j.batchify(jnp.asarray(s), b)
                            for s, b in [(train_stream, BATCH), (val_stream, WLM_EVAL_BATCH)])
    np.testing.assert_array_equal(np.asarray(train_data), t_train.numpy())
    t_lr = lr = 20.0  # --lr
    t_best = best = None
    lrs = []
    for epoch in range(WLM_EPOCHS):
        t_model.train()
        model.train()
        t_hidden, hidden = t_model.init_hidden(BATCH), model.init_hidden(BATCH)
        for batch, i in enumerate(range(0, t_train.size(0) - 1, j.bptt)):
            where = f"epoch {epoch} batch {batch}"
            t_loss, t_hidden = t.train_step(t_model, t_hidden, *t.get_batch(t_train, i), t_lr)
            loss, hidden = step(model, hidden, *j.get_batch(train_data, i), lr)
            np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-5, atol=atol,
                                       err_msg=where)
            _assert_hidden_close(hidden, t_hidden, atol, f"{where}: hidden")
            _check_step(t_model, model, atol, where)
            # --lr 20 multiplies each gradient's float32 rounding by 20, and SGD keeps it:
            # the GRU's parameters drifted past atol (by 1.1e-6) at the tenth step, so each
            # step starts from torch's parameters, as DCGAN's (the hidden state is jnn's).
            _load_torch_state(t_model, model)
        assert batch == 2
        t_val_loss = t.evaluate(t_model, t_val, WLM_EVAL_BATCH)
        val_loss = j.evaluate(model, val_data, WLM_EVAL_BATCH)
        np.testing.assert_allclose(val_loss, t_val_loss, rtol=1e-5, atol=atol,
                                   err_msg=f"epoch {epoch}: validation loss")
        t_lr, t_best = t.end_of_epoch(t_lr, t_val_loss, t_best)
        lr, best = j.end_of_epoch(lr, val_loss, best)
        assert lr == t_lr
        lrs.append(lr)
    assert lrs == [20.0, 20.0, 5.0, 5.0]  # epoch 3's validation loss is worse: annealed
    if compiled:
        # one trace, one when the parameters' .grad first exist at a call (no optimizer
        # holds them: jnn.compile keys on .grad being there), one for the annealed lr (a
        # Python float is static; jnn.compile's RecompileWarning says to pass an array)
        assert step.trace_count == 3
