"""LLM pipelines of astra-gym: environment synthesis (QA -> decomposition ->
tools -> packs), the compiler, and SFT trajectory synthesis.

Only the sandbox they build on exists so far (:mod:`astra_gym.sandbox`); the
pipelines arrive with the compiler and synthesis issues.
"""
