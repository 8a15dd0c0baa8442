"""Sub-commands of the ``dialog-envs`` command line (see :mod:`dialog_envs.cli`)."""
