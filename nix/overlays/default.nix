# The pins overlay. Every entry of ./pins.nix replaces one top-level
# attribute of the fleet's package set with the same attribute of another,
# locked package set (usually a newer nixpkgs revision), after checking that
# it has the version the entry records. nix/flake.nix applies it when
# pins.nix holds an entry; without one the package set is nixpkgs' own.
#
# The replacement comes with its own closure: a package from a newer nixpkgs
# may bring its own glibc. Packages of the fleet's set that depend on the
# pinned attribute are rebuilt against the replacement.
{ pins, system }:
final: prev:
builtins.mapAttrs
  (attr: pin:
    let
      where = "nix/overlays/pins.nix: ${attr}";
      set = (builtins.getFlake pin.flake).legacyPackages.${system}
        or (throw "${where}: ${pin.flake} has no legacyPackages.${system}");
      pkg = set.${attr} or (throw "${where}: ${pin.flake} has no attribute '${attr}'");
      version = pkg.version or "(no version)";
    in
    if version != pin.version
    then throw "${where}: ${pin.flake} has ${attr} ${version}, the pin records ${pin.version}"
    else pkg)
  pins
