"""dialog-envs: Gymnasium environments for dialogue and named-entity recognition.

Importing the package registers every environment under the ``dialog_envs`` namespace::

    import gymnasium as gym
    import dialog_envs  # noqa: F401  (or use the "dialog_envs:dialog_envs/NER-v0" form)

    env = gym.make("dialog_envs/NER-v0")
"""

from importlib.metadata import PackageNotFoundError, version

from dialog_envs.registration import ENV_SPECS, EnvSpec, env_ids, register_envs

try:
    __version__ = version("dialog-envs")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

register_envs()

__all__ = ["ENV_SPECS", "EnvSpec", "env_ids", "register_envs", "__version__"]
