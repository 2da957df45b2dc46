"""``vidcolor train``: trains the native model on folders of color photographs.

Input is the Lab L of a random crop, the target its ab. The default loss is Zhang et al.'s
class-rebalanced cross-entropy over quantized ab (:mod:`vidcolor.models.abbins`): plain L1 on ab
averages plausible colors into sepia. ``--loss l1`` trains the regression head instead, for
comparison.

Issue 16 adds, each a config field: several image sets weighed against each other
(``set_weighting``), progressive resizing (``schedule``: crop and batch size by step), hint
inputs sampled from the truth (``hints``, Zhang et al. 2017), film-like degradations of the input
only (``film``), and a warm start from earlier weights (``init``).

Why larger crops later: at the render size (render factor 21: 320x256 for a 4:3 frame) the
encoder's deepest (stride 32) feature at the centre has a non-zero gradient from every input
pixel (ResNet-18's theoretical receptive field is 435 px), but its effective field is small:
50% of that gradient's mass lies in a 79 px square, 90% in 167 px, 99% in 253 px (v1 weights,
measured by the gradient of one feature w.r.t. the input). The self-attention at 1/8 scale
reaches the whole frame. A 96 px crop shows the network less of a scene than it can use;
224 px crops cover its 90% field.

Training is resumable: a checkpoint (config, data folders, model, optimizer, step, RNG state,
class weights, loss history) is written atomically every ``checkpoint_every`` steps, every
``checkpoint_minutes`` of wall time and at the end. The same command continues from it, and so
does :meth:`Trainer.resume` (``vidcolor train --resume DIR``) with nothing but the folder. Every
random draw comes from one numpy generator whose state is checkpointed, so a stopped and resumed
run gives the same weights, bit for bit, as an uninterrupted one on the same device and threads.

One module per part: :mod:`~vidcolor.training.recipe` (the settings),
:mod:`~vidcolor.training.data` (sets, split, batches), :mod:`~vidcolor.training.augment` (hints,
film-like inputs) and :mod:`~vidcolor.training.trainer` (the loop, checkpoints, export).
"""

from vidcolor.training.recipe import FilmAugment, TrainConfig, parse_schedule
from vidcolor.training.trainer import Trainer

__all__ = ["FilmAugment", "TrainConfig", "Trainer", "parse_schedule"]
