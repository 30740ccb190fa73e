"""Symbolic derivations (sympy) of the Jacobians and gradients of :mod:`jacobians`.

Mirrors the numeric package module for module; filled in by the symbolic issue.
"""
