{
  description = "ClearCutt: a hardened base-image fleet as hermetic Nix closures";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # The fleet is declared once, in clearcutt.yaml; the CLI writes it here
      # (schema clearcutt.dev/nix-fleet/v1) into a staged copy of nix/.
      fleet =
        if builtins.pathExists ./fleet.json then
          let f = builtins.fromJSON (builtins.readFile ./fleet.json); in
          if (f.schema or "") != "clearcutt.dev/nix-fleet/v1"
          then throw "fleet.json: schema is '${f.schema or ""}', want 'clearcutt.dev/nix-fleet/v1'"
          else f
        else null;

      # The package set the fleet is built from: nixpkgs, with the version
      # pins of overlays/pins.nix applied. Without pins it is nixpkgs' own
      # set, unchanged.
      pins = if builtins.pathExists ./overlays/pins.nix then import ./overlays/pins.nix else { };
      pkgsFor = system:
        let base = nixpkgs.legacyPackages.${system}; in
        if pins == { } then base
        else base.appendOverlays [ (import ./overlays { inherit pins system; }) ];

      mkFleet = pkgs:
        let
          inherit (pkgs) lib;
          cells = import ./lib { inherit pkgs; };
          resolve = where: attr:
            lib.attrByPath (lib.splitString "." attr)
              (throw "fleet.json: ${where}: the package set has no attribute '${attr}'")
              pkgs;
          user = fleet.user or { name = "nonroot"; uid = 65532; gid = 65532; };
          tierSpec = rid: tier:
            fleet.tiers.${tier} or (throw "fleet.json: runtimes.${rid}.tiers: tier '${tier}' is not declared under tiers");
          cell = rid: r: tier:
            let t = tierSpec rid tier; in
            cells.mkCell {
              name = "clearcutt-${rid}-${tier}";
              runtime = resolve "runtimes.${rid}.attribute" r.attribute;
              inherit tier user;
              packages =
                map (resolve "tiers.${tier}.packages") (t.packages or [ ])
                ++ (if tier == "dev" then map (resolve "runtimes.${rid}.devPackages") (r.devPackages or [ ]) else [ ]);
              credentialHelper = t.credentialHelper or false;
            };
        in
        if fleet == null then { }
        else builtins.mapAttrs (rid: r: lib.genAttrs r.tiers (cell rid r)) fleet.runtimes;
    in
    {
      # lib.mkCell { pkgs, runtime, tier, packages, credentialHelper, user, name }
      lib = {
        mkCell = { pkgs, ... }@args: (import ./lib { inherit pkgs; }).mkCell (removeAttrs args [ "pkgs" ]);
        forPkgs = pkgs: import ./lib { inherit pkgs; };
      };

      # legacyPackages.<system>.clearcutt.<runtime>.<tier> = { root, graph }
      # legacyPackages.<system>.pkgs: the package set the cells are built from
      legacyPackages = forAll (system:
        let pkgs = pkgsFor system; in {
          clearcutt = mkFleet pkgs;
          inherit pkgs;
        });
    };
}
