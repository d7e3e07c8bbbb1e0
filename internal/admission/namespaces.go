package admission

import (
	"crypto/ecdsa"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Namespaces selects the production namespaces: by label selector, or by
// name.
type Namespaces struct {
	// MatchLabels and MatchExpressions form a Kubernetes label selector.
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []Requirement     `json:"matchExpressions,omitempty"`
	// Names lists namespaces by name (exclusive with the selector).
	Names []string `json:"names,omitempty"`
}

// Requirement is one matchExpressions entry.
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"` // In, NotIn, Exists, DoesNotExist
	Values   []string `json:"values,omitempty"`
}

var (
	// A label key: optional DNS-subdomain prefix and "/", then a name.
	reLabelKey   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	reLabelValue = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	// A namespace name is a DNS label.
	reNamespace = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	reSetReq    = regexp.MustCompile(`^(\S+)\s+(in|notin)\s*\(([^()]*)\)$`)
)

// ParseNamespaces reads --production-namespaces: a Kubernetes label
// selector when the text contains "=", "!" or "(" — requirements
// "key=value", "key==value", "key!=value", "key in (a,b)", "key notin (a,b)",
// "key", "!key", separated by commas — and otherwise a comma-separated list
// of namespace names.
func ParseNamespaces(text string) (Namespaces, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Namespaces{}, fmt.Errorf("%w: production namespaces: empty selector", ErrInvalidOptions)
	}
	if !strings.ContainsAny(text, "=!(") {
		return parseNames(text)
	}
	var ns Namespaces
	for _, req := range splitRequirements(text) {
		req = strings.TrimSpace(req)
		if err := ns.add(req); err != nil {
			return Namespaces{}, fmt.Errorf("%w: production namespaces %q: %w", ErrInvalidOptions, text, err)
		}
	}
	return ns, nil
}

func parseNames(text string) (Namespaces, error) {
	var ns Namespaces
	seen := map[string]bool{}
	for _, n := range strings.Split(text, ",") {
		n = strings.TrimSpace(n)
		if !reNamespace.MatchString(n) {
			return Namespaces{}, fmt.Errorf("%w: production namespaces: %q is not a namespace name (or use a label selector such as env=production)", ErrInvalidOptions, n)
		}
		if !seen[n] {
			seen[n] = true
			ns.Names = append(ns.Names, n)
		}
	}
	return ns, nil
}

// splitRequirements splits at commas outside parentheses.
func splitRequirements(text string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range text {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, text[start:i])
				start = i + 1
			}
		}
	}
	return append(out, text[start:])
}

func (ns *Namespaces) add(req string) error {
	if m := reSetReq.FindStringSubmatch(req); m != nil {
		op := "In"
		if m[2] == "notin" {
			op = "NotIn"
		}
		var values []string
		for _, v := range strings.Split(m[3], ",") {
			v = strings.TrimSpace(v)
			if v == "" || !reLabelValue.MatchString(v) {
				return fmt.Errorf("%q: bad value %q", req, v)
			}
			values = append(values, v)
		}
		sort.Strings(values)
		return ns.expr(req, Requirement{Key: m[1], Operator: op, Values: values})
	}
	for _, op := range []string{"!=", "==", "="} {
		k, v, ok := strings.Cut(req, op)
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !reLabelKey.MatchString(k) {
			return fmt.Errorf("%q: bad label key %q", req, k)
		}
		if !reLabelValue.MatchString(v) {
			return fmt.Errorf("%q: bad label value %q", req, v)
		}
		if op == "!=" {
			return ns.expr(req, Requirement{Key: k, Operator: "NotIn", Values: []string{v}})
		}
		if ns.MatchLabels == nil {
			ns.MatchLabels = map[string]string{}
		}
		if old, dup := ns.MatchLabels[k]; dup && old != v {
			return fmt.Errorf("%q: label %s is already required to be %q", req, k, old)
		}
		ns.MatchLabels[k] = v
		return nil
	}
	if k, ok := strings.CutPrefix(req, "!"); ok {
		return ns.expr(req, Requirement{Key: strings.TrimSpace(k), Operator: "DoesNotExist"})
	}
	return ns.expr(req, Requirement{Key: req, Operator: "Exists"})
}

func (ns *Namespaces) expr(req string, r Requirement) error {
	if !reLabelKey.MatchString(r.Key) {
		return fmt.Errorf("%q: bad label key %q", req, r.Key)
	}
	ns.MatchExpressions = append(ns.MatchExpressions, r)
	return nil
}

// checkPublicKey accepts a PEM ECDSA public key (what LoadOrCreateKey
// writes next to the signing key).
func checkPublicKey(pemData []byte) error {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemData)
	if err != nil {
		return fmt.Errorf("%w: public key: %v", ErrInvalidOptions, err)
	}
	if _, ok := pub.(*ecdsa.PublicKey); !ok {
		return fmt.Errorf("%w: public key: %T is not an ECDSA key (ClearCutt signs with ECDSA P-256)", ErrInvalidOptions, pub)
	}
	return nil
}
