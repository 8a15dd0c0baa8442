"""Agents that act in the dialog_envs environments: the token-level policy-gradient agent."""
