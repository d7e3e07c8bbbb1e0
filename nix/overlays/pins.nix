# Version pins. Each entry takes one attribute of the fleet's package set
# from another, locked package set, usually a newer nixpkgs revision that
# carries a fix the locked nixpkgs (nix/flake.lock) lacks; default.nix here
# applies them (docs/remediation.md). `clearcutt remediate draft --strategy
# pin` adds entries. Remove an entry once nix/flake.lock carries the version.
#
#   <attribute> = {
#     flake = "<locked flake reference, with its narHash>";
#     version = "<the attribute's version there, checked on evaluation>";
#     fixes = [ "<vulnerability id>" ];
#   };
{ }
