"""Bakery's additions to the `metaflow` namespace (Metaflow's `toplevel` extension point).

Metaflow imports the module named here at the end of `import metaflow`: its submodules become
`metaflow.<name>` aliases (so `metaflow.profilers`), and its other public names become
attributes of `metaflow` itself (so `metaflow.gpu_profile`, as Outerbounds' client has it).
"""

toplevel = "bakery_toplevel"
