package remediate

import (
	"fmt"
	"strings"
)

// mdTable renders a Markdown table; cells have | and newlines escaped.
func mdTable(header []string, rows [][]string) string {
	esc := strings.NewReplacer("|", `\|`, "\n", " ", "\r", "")
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = esc.Replace(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String() + "\n"
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func vulnWithContext(a Action, id string) string {
	for _, v := range a.Vulnerabilities {
		if v.ID != id {
			continue
		}
		s := fmt.Sprintf("**%s** (%s", v.ID, v.Severity)
		if v.KEV != nil {
			s += ", known exploited: CISA KEV"
			if v.KEV.DateAdded != "" {
				s += " since " + v.KEV.DateAdded
			}
			if v.KEV.DueDate != "" {
				s += ", due " + v.KEV.DueDate
			}
		}
		return s + ")"
	}
	return "**" + id + "**"
}

// Body is the pull request's description: what changes and why, the
// evidence from the rebuilt images, and how to reproduce it.
func (d Draft) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Remediate %s: %s → %s\n\n", d.Package, strings.Join(d.From, ", "), d.To)
	var fixes []string
	for _, id := range d.Fixes {
		fixes = append(fixes, vulnWithContext(d.Action, id))
	}
	var images []string
	for _, im := range d.Images {
		images = append(images, code(im.Image))
	}
	fmt.Fprintf(&b, "Fixes %s in %s.\n\n", strings.Join(fixes, ", "), strings.Join(images, ", "))
	rebuilt, notRebuilt := d.Architectures, d.NotRebuilt
	if len(rebuilt)+len(notRebuilt) == 0 {
		rebuilt, notRebuilt = d.RebuiltArchitectures()
	}
	if len(notRebuilt) > 0 {
		b.WriteString(notRebuiltNotice(d, rebuilt, notRebuilt))
	}

	strategy := "**lock**: `nix/flake.lock` locks the nixpkgs input to the newer revision; every package of the fleet moves with it"
	if d.Change.Strategy == StrategyPin {
		strategy = "**pin**: `nix/overlays/pins.nix` takes `" + d.Attribute + "` alone from the newer package set; everything else stays at the locked nixpkgs"
	}
	b.WriteString(mdTable([]string{"", ""}, [][]string{
		{"Package", code(d.Package) + " (attribute " + code(d.Attribute) + ")"},
		{"Version", strings.Join(d.From, ", ") + " → " + d.To},
		{"Strategy", strategy},
		{"File", code(d.Change.File)},
		{"Before", code(d.Change.Before)},
		{"After", code(d.Change.After)},
		{"Newer package set", code(d.Newer.URL)},
		{"Architectures", architecturesText(rebuilt, notRebuilt)},
	}))

	b.WriteString("### Vulnerabilities\n\n")
	rows := [][]string{}
	for _, im := range d.Images {
		rows = append(rows, []string{code(im.Image), ids(im.Delta.Fixed), ids(im.Delta.StillActive), ids(im.Delta.New), gateText(im)})
	}
	b.WriteString(mdTable([]string{"Image", "Fixed", "Still active", "New", "Gates"}, rows))

	for _, im := range d.Images {
		fmt.Fprintf(&b, "### %s\n\n", im.Image)
		fmt.Fprintf(&b, "Rebuilt %s", code(im.Rebuilt))
		if len(im.Architectures) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(im.Architectures, ", "))
		}
		fmt.Fprintf(&b, "; published %s.", code(im.Published))
		if len(im.NotRebuilt) > 0 {
			what := "platform is"
			if len(im.NotRebuilt) > 1 {
				what = "platforms are"
			}
			fmt.Fprintf(&b, " **Not rebuilt: %s**; the published %s %s not compared here.", strings.Join(im.NotRebuilt, ", "), strings.Join(im.NotRebuilt, ", "), what)
		}
		b.WriteString("\n\n")
		for _, p := range im.Platforms {
			fmt.Fprintf(&b, "**SBOM diff, %s** (%s → %s)\n\n", p.Platform, code(short(p.Before)), code(short(p.After)))
			switch {
			case p.SBOM == nil:
				b.WriteString(p.SBOMNote + "\n\n")
			case p.SBOM.Empty():
				fmt.Fprintf(&b, "No package changed (%d packages).\n\n", p.SBOM.Unchanged)
			default:
				var rows [][]string
				for _, c := range p.SBOM.Changed {
					rows = append(rows, []string{"changed", code(c.Name), c.Type, strings.Join(c.Before, ", "), strings.Join(c.After, ", ")})
				}
				for _, c := range p.SBOM.Added {
					rows = append(rows, []string{"added", code(c.Name), c.Type, "", strings.Join(c.After, ", ")})
				}
				for _, c := range p.SBOM.Removed {
					rows = append(rows, []string{"removed", code(c.Name), c.Type, strings.Join(c.Before, ", "), ""})
				}
				b.WriteString(mdTable([]string{"", "Package", "Type", "Before", "After"}, rows))
				fmt.Fprintf(&b, "%d other packages unchanged.\n\n", p.SBOM.Unchanged)
			}
		}
		b.WriteString("**Vulnerabilities**\n\n")
		for _, l := range []struct {
			name string
			fs   []DeltaFinding
		}{{"Fixed", im.Delta.Fixed}, {"Still active", im.Delta.StillActive}, {"New", im.Delta.New}} {
			if len(l.fs) == 0 {
				fmt.Fprintf(&b, "- %s: none\n", l.name)
				continue
			}
			for _, f := range l.fs {
				fmt.Fprintf(&b, "- %s: %s (%s) in %s %s\n", l.name, f.ID, f.Severity, f.Package, versions(f.Before, f.After))
			}
		}
		b.WriteString("\n**VEX**\n\n")
		if len(im.Delta.VEXRetired)+len(im.Delta.VEXAdded) == 0 {
			b.WriteString("No VEX statement changes what it covers.\n\n")
		}
		for _, v := range im.Delta.VEXRetired {
			fmt.Fprintf(&b, "- No longer applies: %s %s%s for %s %s — %s; the statement can be retired.\n",
				v.ID, v.Status, paren(v.Justification), v.Package, v.Before, vexNow(v))
		}
		for _, v := range im.Delta.VEXAdded {
			fmt.Fprintf(&b, "- Applies now: %s %s%s for %s %s.\n", v.ID, v.Status, paren(v.Justification), v.Package, v.After)
		}
		if len(im.Delta.VEXRetired)+len(im.Delta.VEXAdded) > 0 {
			b.WriteString("\n")
		}
	}

	b.WriteString("### Reproduce\n\n```sh\n")
	for _, c := range d.Commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n\n")
	b.WriteString("### Review\n\n")
	scope := "the images above"
	if len(notRebuilt) > 0 {
		scope = "the " + strings.Join(rebuilt, ", ") + " images above (not " + strings.Join(notRebuilt, ", ") + ")"
	}
	b.WriteString("Drafted by `clearcutt remediate draft`, which rebuilt " + scope + " with the pipeline's own build, tier-test, SBOM and scan stages and would have refused the change had a gate failed or a new active finding appeared. A person reviews and merges this change; ClearCutt never merges, publishes or deploys it. Once merged, the publish workflow rebuilds every architecture of the images, gates, signs and publishes them.\n")
	return b.String()
}

// notRebuiltNotice says which architectures the draft did not rebuild,
// and of which images.
func notRebuiltNotice(d Draft, rebuilt, notRebuilt []string) string {
	// Images grouped by the architectures they were not rebuilt for.
	var groups []string
	byArchs := map[string][]string{}
	for _, im := range d.Images {
		if len(im.NotRebuilt) == 0 {
			continue
		}
		k := strings.Join(im.NotRebuilt, ", ")
		if _, ok := byArchs[k]; !ok {
			groups = append(groups, k)
		}
		byArchs[k] = append(byArchs[k], code(im.Image))
	}
	var parts []string
	for _, k := range groups {
		parts = append(parts, k+" of "+strings.Join(byArchs[k], ", "))
	}
	return fmt.Sprintf("> [!IMPORTANT]\n"+
		"> **Not rebuilt: %s.** This draft rebuilt, tested and scanned %s only; not rebuilt: %s. The vulnerabilities, SBOM diff and VEX changes below cover %s alone. "+
		"The release run (the publish workflow) re-builds every architecture of every image and gates each one (tier tests, smoke run, vulnerability gate) before anything is published.\n\n",
		strings.Join(notRebuilt, ", "), strings.Join(rebuilt, ", "), strings.Join(parts, "; "), strings.Join(rebuilt, ", "))
}

func architecturesText(rebuilt, notRebuilt []string) string {
	if len(rebuilt) == 0 && len(notRebuilt) == 0 {
		return ""
	}
	if len(notRebuilt) == 0 {
		return strings.Join(rebuilt, ", ") + " (every architecture rebuilt)"
	}
	return "rebuilt: " + strings.Join(rebuilt, ", ") + "; **not rebuilt: " + strings.Join(notRebuilt, ", ") + "**"
}

func ids(fs []DeltaFinding) string {
	if len(fs) == 0 {
		return "—"
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+" ("+f.Package+")")
	}
	return strings.Join(out, ", ")
}

func gateText(im ImageEvidence) string {
	if im.TestsPassed && im.ScanPassed {
		return "tests and vulnerability gate (" + im.ScanPolicy + ") pass"
	}
	return "FAIL: " + strings.Join(im.Gate, "; ")
}

func versions(before, after string) string {
	switch {
	case before != "" && after != "" && before != after:
		return before + " → " + after
	case after != "":
		return after
	}
	return before
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func vexNow(v VEXChange) string {
	if v.After == "" {
		return "the rebuilt images no longer carry the vulnerability"
	}
	return "it does not cover " + v.Package + " " + v.After
}

func short(d string) string {
	if len(d) > 19 && strings.HasPrefix(d, "sha256:") {
		return d[:19]
	}
	return d
}
