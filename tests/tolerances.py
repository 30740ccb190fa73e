"""The one table of tolerances the tests use (relative, absolute).

EXACT: two exact formulas evaluated in float64 (Jacobian chain vs compact formula, kron vs
block fill): only rounding separates them.
FINITE_DIFFERENCE: a central difference with h = 1e-6 against an analytic derivative; its
error is about h²·f''' + ε·|f|/h ≈ 1e-10 for values of order 1.
"""

EXACT = (1e-10, 1e-13)
FINITE_DIFFERENCE = (1e-5, 1e-7)
STEP = 1e-6
