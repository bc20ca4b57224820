"""Experiments: recipes, training runner, optimizer comparison, 2-D test functions and trajectories.

* :mod:`~adamkit.lab.models`: the articles' models (MLP, small CNN, logistic regression, 2-4-1).
* :mod:`~adamkit.lab.optimizers`: the lab's optimizer names (``adam``, ``sgd``, ``torch-adam``, ...).
* :mod:`~adamkit.lab.runner`: one reproducible training run, saved as JSON and CSV.
* :mod:`~adamkit.lab.compare`: ``adamkit compare``, several optimizers over several seeds.
* :mod:`~adamkit.lab.report`: the summary table, plots and the self-contained HTML page.
* :mod:`~adamkit.lab.reproduce`: ``adamkit reproduce``, the articles' experiments.
* :mod:`~adamkit.lab.arguments`: the command-line types shared by the subcommands.
* :mod:`~adamkit.lab.functions`, :mod:`~adamkit.lab.trajectories`, :mod:`~adamkit.lab.sphere`:
  2-D test functions and the optimizers' paths on them.

Nothing is imported here, so ``import adamkit.lab.X`` loads only what X needs.
"""
