# Tier assembly and the closure graph, written against a `pkgs` argument:
# real nixpkgs in nix/flake.nix, the offline set in nix/fixtures for tests.
#
# mkCell builds one runtime × tier cell:
#   root  – the image's top-level tree (bin/, etc/, tmp/, home/<user>/)
#   graph – $out/closure.json, schema clearcutt.dev/closure-graph/v1: the
#           root's runtime closure as Nix computed it, plus the packages
#           placed deliberately and the modes/owners the store cannot hold.
# Build scripts are POSIX sh: they run under nixpkgs' stdenv (bash and
# coreutils) and under busybox sh.
{ pkgs }:
let
  inherit (builtins) concatStringsSep concatLists elem map;

  tiers = [ "distroless" "slim" "dev" ];

  defaultUser = { name = "nonroot"; uid = 65532; gid = 65532; };

  nameOf = p: builtins.parseDrvName (p.name or "unknown");
  pnameOf = p: p.pname or (nameOf p).name;
  versionOf = p: p.version or (nameOf p).version;
  pkgInfo = role: p: { path = "${p}"; pname = pnameOf p; version = versionOf p; inherit role; };

  credentialHelperVersion = "1.0.0";

  # Docker credential-helper protocol (`get`, `store`, `erase`, `list`) and
  # git's credential protocol, answered from CLEARCUTT_REGISTRY_USER and
  # CLEARCUTT_REGISTRY_TOKEN. Nothing is ever written: the credential lives
  # only as long as the environment of the job that set it.
  credentialHelperScript = ./credential-helper.sh;

  mkCredentialHelper = shell: pkgs.writeTextFile {
    name = "clearcutt-credential-helper-${credentialHelperVersion}";
    executable = true;
    destination = "/bin/clearcutt-credential-helper";
    text = "#!${shell}\n" + builtins.readFile credentialHelperScript;
  };

  # Package managers have no place in a deployable image: busybox's dpkg and
  # rpm applets are configured out of the slim tier's busybox.
  noPackageManagerApplets = ''
    CONFIG_DPKG n
    CONFIG_DPKG_DEB n
    CONFIG_RPM n
    CONFIG_RPM2CPIO n
  '';
  hardenTool = tier: p:
    if tier != "dev" && (p.pname or "") == "busybox" && p ? override
    then p.override { extraConfig = noPackageManagerApplets; }
    else p;

  # The runtime as the deployable tiers carry it: a derived store path with
  # the runtime's name, in which no file names a shell or coreutils store
  # path of its closure (scrub.sh says how, and writes what it did to
  # nix-support/clearcutt-scrub.json). The interpreter is not rebuilt:
  # docs/adr/0011.
  scrubRuntime = runtime: pkgs.runCommand runtime.name
    {
      inherit runtime;
      runtimeName = runtime.name;
      pname = pnameOf runtime;
      version = versionOf runtime;
      exportReferencesGraph = [ "runtime-closure" runtime ];
    }
    (builtins.readFile ./scrub.sh);

  shellFor = tier: if tier == "distroless" then "/nonexistent" else if tier == "dev" then "/bin/bash" else "/bin/sh";

  osRelease = name: tier: ''
    NAME="ClearCutt"
    ID=clearcutt
    VERSION_ID=1
    VARIANT_ID=${tier}
    PRETTY_NAME="ClearCutt ${name} (${tier})"
    HOME_URL="https://github.com/clearcutt/clearcutt"
  '';

  mkCell =
    { runtime
    , tier
    , packages ? [ ]
    , credentialHelper ? false
    , user ? defaultUser
    , name
    }:
    let
      checked =
        if !(elem tier tiers) then throw "clearcutt: cell ${name}: unknown tier '${tier}' (want one of ${concatStringsSep ", " tiers})"
        else if credentialHelper && tier != "dev" then throw "clearcutt: cell ${name}: the credential helper is only allowed in the dev tier, not '${tier}'"
        else if tier == "distroless" && packages != [ ] then throw "clearcutt: cell ${name}: the distroless tier takes no tier packages"
        else true;

      tools = map (hardenTool tier) packages;
      helper = if credentialHelper then [ (mkCredentialHelper "${pkgs.bashInteractive}/bin/sh") ] else [ ];
      # dev carries the runtime as it is (its build-time scripts included).
      scrubbed = if tier == "dev" then null else scrubRuntime runtime;
      image = if scrubbed == null then runtime else scrubbed;
      binPackages = [ image ] ++ tools ++ helper;
      shell = shellFor tier;
      home = "/home/${user.name}";

      passwd = ''
        root:x:0:0:root:/root:${shell}
        ${user.name}:x:${toString user.uid}:${toString user.gid}:${user.name}:${home}:${shell}
      '';
      group = ''
        root:x:0:
        ${user.name}:x:${toString user.gid}:
      '';
      nsswitch = ''
        passwd: files
        group: files
        shadow: files
        hosts: files dns
      '';

      root = assert checked; pkgs.runCommand "${name}-root" { } ''
        mkdir -p "$out/bin" "$out/etc/ssl/certs" "$out/tmp" "$out${home}"
        for p in ${concatStringsSep " " (map (p: "${p}") binPackages)}; do
          [ -d "$p/bin" ] || continue
          for f in "$p"/bin/*; do
            [ -e "$f" ] || [ -L "$f" ] || continue
            n=''${f##*/}
            if [ -e "$out/bin/$n" ] || [ -L "$out/bin/$n" ]; then continue; fi
            ln -s "$f" "$out/bin/$n"
          done
        done
        # Time zone data, from the first package that ships it (tzdata).
        for p in ${concatStringsSep " " (map (p: "${p}") binPackages)}; do
          if [ -d "$p/share/zoneinfo" ]; then
            mkdir -p "$out/usr/share"
            ln -s "$p/share/zoneinfo" "$out/usr/share/zoneinfo"
            break
          fi
        done
        # The packages placed in this image, one "pname version store-path" per
        # line: a reference from the root to each, so a runtime without bin/
        # stays in the closure, and a plain-text inventory for a person.
        mkdir -p "$out/etc/clearcutt"
        printf '%s' ${escape (concatStringsSep "" (map (p: "${pnameOf p} ${versionOf p} ${p}\n") binPackages))} > "$out/etc/clearcutt/packages"
        ${if scrubbed == null then "" else ''
          # What the scrub removed or rewrote, and why.
          ln -s ${scrubbed}/nix-support/clearcutt-scrub.json "$out/etc/clearcutt/closure-scrub.json"
        ''}
        ln -s ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/ssl/certs/ca-bundle.crt"
        ln -s ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/ssl/certs/ca-certificates.crt"
        printf '%s' ${escape passwd} > "$out/etc/passwd"
        printf '%s' ${escape group} > "$out/etc/group"
        printf '%s' ${escape nsswitch} > "$out/etc/nsswitch.conf"
        printf '%s' ${escape (osRelease name tier)} > "$out/etc/os-release"
      '';

      basePermissions = [
        { path = "tmp"; mode = "1777"; uid = 0; gid = 0; }
        { path = "home"; mode = "0755"; uid = 0; gid = 0; }
        { path = "home/${user.name}"; mode = "0755"; uid = user.uid; gid = user.gid; }
        { path = "etc/passwd"; mode = "0644"; uid = 0; gid = 0; }
        { path = "etc/group"; mode = "0644"; uid = 0; gid = 0; }
        { path = "etc/nsswitch.conf"; mode = "0644"; uid = 0; gid = 0; }
        { path = "etc/os-release"; mode = "0644"; uid = 0; gid = 0; }
        { path = "etc/clearcutt/packages"; mode = "0644"; uid = 0; gid = 0; }
      ];
      # A package may ask for modes on what it puts in the root (the store
      # cannot hold setuid bits or owners): `clearcuttPermissions`.
      extraPermissions = concatLists (map (p: p.clearcuttPermissions or [ ]) ([ runtime ] ++ tools));

      graph = pkgs.runCommand name
        {
          __structuredAttrs = true;
          exportReferencesGraph = { closure = [ root ]; };
          schema = "clearcutt.dev/closure-graph/v1";
          inherit tier;
          root = "${root}";
          runtime = { path = "${image}"; pname = pnameOf image; version = versionOf image; };
          packages =
            [ (pkgInfo "runtime" image) (pkgInfo "cacert" pkgs.cacert) ]
            ++ map (pkgInfo "tool") tools
            ++ map (pkgInfo "credential-helper") helper
            ++ [ { path = "${root}"; pname = "${name}-root"; version = ""; role = "root"; } ];
          permissions = basePermissions ++ extraPermissions;
          user = user;
        } ''
        # Nix 2.8 points NIX_ATTRS_JSON_FILE outside the sandbox.
        attrs="''${NIX_ATTRS_JSON_FILE:-}"
        [ -f "$attrs" ] || attrs="$NIX_BUILD_TOP/.attrs.json"
        mkdir -p "$out"
        cp "$attrs" "$out/closure.json"
      '';
    in
    { inherit root graph; };

  # Single-quote a string for sh.
  escape = s: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] s + "'";
in
{
  inherit mkCell tiers;
}
