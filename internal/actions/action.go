// Package actions is the model of ClearCutt's composite actions
// (actions/<stage>/action.yml): it loads them, renders each action's README
// from its action.yml, and checks the rules every action and workflow of the
// repository follows: inputs reach the CLI only through env:, no expression
// is interpolated into a shell script, every uses: is pinned to a commit, and
// an action declares exactly the outputs the CLI writes for its command.
package actions

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"
)

// ErrInvalidAction: an action.yml that cannot be read or lacks a required
// field.
var ErrInvalidAction = errors.New("invalid action")

// Action is one composite action, fields in file order.
type Action struct {
	// Dir is the action's directory name under actions/: the stage, and
	// the clearcutt command it runs.
	Dir         string
	Path        string
	Raw         []byte
	Name        string
	Description string
	Inputs      []Input
	Outputs     []Output
	Using       string
	Steps       []Step
}

// subcommands names the command of an action whose directory is only the
// first word of it.
var subcommands = map[string]string{"remediate": "remediate draft"}

// Command is the clearcutt command the action runs ("scan", "remediate
// draft"): its directory name, or the subcommand that directory stands for.
func (a *Action) Command() string {
	if c, ok := subcommands[a.Dir]; ok {
		return c
	}
	return a.Dir
}

// Input is one declared input.
type Input struct {
	Name        string
	Description string
	Required    bool
	Default     string
	HasDefault  bool
}

// Output is one declared output and the expression it is set from.
type Output struct {
	Name        string
	Description string
	Value       string
}

// Step is one step of runs.steps.
type Step struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

type rawAction struct {
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Author      string    `yaml:"author"`
	Inputs      yaml.Node `yaml:"inputs"`
	Outputs     yaml.Node `yaml:"outputs"`
	Runs        struct {
		Using string `yaml:"using"`
		Steps []Step `yaml:"steps"`
	} `yaml:"runs"`
}

// Load reads and parses one action.yml.
func Load(path string) (*Action, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAction, err)
	}
	return Parse(path, data)
}

// Parse parses the bytes of the action.yml at path.
func Parse(path string, data []byte) (*Action, error) {
	var r rawAction
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidAction, path, err)
	}
	a := &Action{
		Dir: filepath.Base(filepath.Dir(path)), Path: path, Raw: data,
		Name: r.Name, Description: r.Description, Using: r.Runs.Using, Steps: r.Runs.Steps,
	}
	if a.Name == "" || a.Description == "" {
		return nil, fmt.Errorf("%w: %s: name and description are required", ErrInvalidAction, path)
	}
	err := eachEntry(&r.Inputs, func(name string, n *yaml.Node) error {
		var in struct {
			Description string  `yaml:"description"`
			Required    bool    `yaml:"required"`
			Default     *string `yaml:"default"`
		}
		if err := n.Decode(&in); err != nil {
			return err
		}
		if in.Description == "" {
			return fmt.Errorf("input %s has no description", name)
		}
		i := Input{Name: name, Description: in.Description, Required: in.Required}
		if in.Default != nil {
			i.Default, i.HasDefault = *in.Default, true
		}
		a.Inputs = append(a.Inputs, i)
		return nil
	})
	if err == nil {
		err = eachEntry(&r.Outputs, func(name string, n *yaml.Node) error {
			var out struct {
				Description string `yaml:"description"`
				Value       string `yaml:"value"`
			}
			if err := n.Decode(&out); err != nil {
				return err
			}
			a.Outputs = append(a.Outputs, Output{Name: name, Description: out.Description, Value: out.Value})
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidAction, path, err)
	}
	return a, nil
}

// eachEntry calls f for every key of a mapping node, in file order.
func eachEntry(n *yaml.Node, f func(string, *yaml.Node) error) error {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := f(n.Content[i].Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// LoadAll loads actions/*/action.yml under root, sorted by directory.
func LoadAll(root string) ([]*Action, error) {
	paths, err := filepath.Glob(filepath.Join(root, "actions", "*", "action.yml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []*Action
	for _, p := range paths {
		a, err := Load(p)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
