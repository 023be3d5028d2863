"""Entry point for the Pulumi CLI (``Pulumi.yaml`` names ``infra/`` as the program).

``pulumi preview`` / ``pulumi up`` in the repo root run this file; the cloud comes from stack config
(``pulumi config set escher:cloud aws``). ``escher extend`` runs the same program inline through the
Automation API instead.
"""

from escher.infra.program import main

main()
