// Command runaction runs one of the repository's composite actions on this
// machine the way a GitHub runner runs it (see actionlint.LocalRunner); the
// publish rehearsal (scripts/rehearse-publish.sh) drives the workflow's
// stages through it.
//
//	runaction [-outputs FILE] [-skip-build] ACTION_DIR [input=value ...]
//	runaction -parse-outputs FILE
//
// The environment is passed to every step (set GITHUB_ACTIONS=true and the
// GITHUB_* variables a job has); RUNNER_TEMP must be set. The action's
// step summaries are appended to $GITHUB_STEP_SUMMARY when it is set, and
// its outputs are written as a JSON object to -outputs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/clearcutt/clearcutt/internal/actionlint"
)

func main() {
	outputs := flag.String("outputs", "", "write the action's outputs here as a JSON object")
	skipBuild := flag.Bool("skip-build", false, "reuse $RUNNER_TEMP/clearcutt when it exists")
	parse := flag.String("parse-outputs", "", "print the $GITHUB_OUTPUT file given as a JSON object, and exit")
	flag.Parse()
	if *parse != "" {
		if err := parseOutputs(*parse); err != nil {
			fmt.Fprintln(os.Stderr, "runaction:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: runaction [-outputs FILE] [-skip-build] ACTION_DIR [input=value ...]")
		os.Exit(2)
	}
	if err := run(*outputs, *skipBuild, flag.Arg(0), flag.Args()[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "runaction:", err)
		os.Exit(1)
	}
}

func run(outputs string, skipBuild bool, actionDir string, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a, err := actionlint.Load(filepath.Join(actionDir, "action.yml"))
	if err != nil {
		return err
	}
	inputs := map[string]string{}
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("argument %q is not input=value", arg)
		}
		inputs[k] = v
	}
	temp := os.Getenv("RUNNER_TEMP")
	if temp == "" {
		return fmt.Errorf("RUNNER_TEMP is not set")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	l := actionlint.LocalRunner{Dir: wd, RunnerTemp: temp, Env: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr, SkipBuild: skipBuild}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		l.Summary = f
	}
	out, err := l.Run(ctx, a, inputs)
	if err != nil {
		return err
	}
	var w io.Writer = io.Discard
	if outputs != "" {
		f, err := os.Create(outputs)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return json.NewEncoder(w).Encode(out)
}

func parseOutputs(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := actionlint.ParseOutputs(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
