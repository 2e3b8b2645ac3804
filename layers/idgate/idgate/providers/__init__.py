"""Identity-verification providers: `base` is the interface every provider implements, `registry` the list
of providers (adding one is adding its module and one line there), one module per provider client.

Kept empty: the core imports `idgate.providers.base` on every path, and Python runs this file first, so
importing the registry here would import every provider client (and requests) at each cold start.
"""
