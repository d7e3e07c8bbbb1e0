package pipeline

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Timings say where a run's time went: per stage, how many steps it took,
// their time together and the longest of them.
type Timings struct {
	// Seconds is the wall time of the whole run, from its start to its
	// report. Images gated at the same time overlap, so it can be less
	// than the stages' Seconds added up.
	Seconds float64 `json:"seconds"`
	// Stages are the stages that ran at least one step, in the order they
	// first ran (build, assemble, test, sbom, scan, publish, attest,
	// verify, tag for a signed release).
	Stages []StageTiming `json:"stages"`
}

// StageTiming is the time a run spent in one stage.
type StageTiming struct {
	// Stage names the stage: build, assemble, test, sbom, scan, publish,
	// attest, verify or tag.
	Stage string `json:"stage"`
	// Steps is the number of steps run: one per image, and for build one
	// per image and architecture. A failed step counts; a step never
	// reached does not.
	Steps int `json:"steps"`
	// Reused is the number of those steps that reused an earlier result
	// (a cache hit) rather than doing the work.
	Reused int `json:"reused"`
	// Seconds is the time of the stage's steps added up. Steps of
	// different images that ran at the same time each count in full, so
	// the stages together can take longer than the run.
	Seconds float64 `json:"seconds"`
	// Longest is the stage's longest step.
	Longest StepTiming `json:"longest"`
	// Redone, when some of the stage's steps were reused, names the
	// subjects of the others, in the order they ran: what a re-run did
	// again because something it consumed changed.
	Redone []string `json:"redone,omitempty"`
}

// StepTiming is the time of one step.
type StepTiming struct {
	// Subject is what the step ran on: an image ("python:slim"), and for a
	// build its architecture too ("python:slim arm64").
	Subject string  `json:"subject"`
	Seconds float64 `json:"seconds"`
}

// Steps numbers the steps of a long run, says how long each took and
// keeps the time of each stage for the run's Timings. Every step is timed
// with the clock it is given (time.Now: the monotonic clock).
//
// Steps run one after another on a Lane; a run that gates several images
// at once gives each its own lane (Lane), and Steps, which is safe for
// concurrent use, numbers and adds up the steps of all of them. Begin,
// Reuse and End run the steps of one lane of its own.
type Steps struct {
	mu     sync.Mutex
	w      io.Writer
	n      int
	total  int
	now    func() time.Time
	stages []stageClock
	main   Lane
}

// Lane is a sequence of steps, one running at a time: the steps of one
// image. Its methods must not be called concurrently with each other; other
// lanes of the same Steps may run at the same time.
type Lane struct {
	s               *Steps
	n               int
	stage, subject  string
	running, reused bool
	start           time.Time
}

// stageClock adds up the steps of one stage.
type stageClock struct {
	stage          string
	steps, reused  int
	total, longest time.Duration
	longestSubject string
	redone         []string
}

// NewSteps writes "[n/total] stage subject" lines to w (nil: nowhere),
// timed with now (nil: time.Now).
func NewSteps(w io.Writer, total int, now func() time.Time) *Steps {
	if w == nil {
		w = io.Discard
	}
	if now == nil {
		now = time.Now
	}
	s := &Steps{w: w, total: total, now: now}
	s.main.s = s
	return s
}

// Lane is a new sequence of steps of s.
func (s *Steps) Lane() *Lane { return &Lane{s: s} }

// Begin ends the running step of s's own lane and starts the next one
// (Lane.Begin).
func (s *Steps) Begin(stage, subject string) { s.main.Begin(stage, subject) }

// Reuse marks the running step of s's own lane as reused (Lane.Reuse).
func (s *Steps) Reuse() { s.main.Reuse() }

// End ends the running step of s's own lane, if any (Lane.End).
func (s *Steps) End() { s.main.End() }

// Begin ends the running step and starts the next one: stage (build,
// sbom, ...) run on subject (an image, for a build with its
// architecture). Steps are numbered in the order they begin, across lanes.
func (l *Lane) Begin(stage, subject string) {
	l.End()
	s := l.s
	s.mu.Lock()
	s.n++
	l.n = s.n
	l.stage, l.subject, l.running, l.reused = stage, subject, true, false
	fmt.Fprintf(s.w, "[%d/%d] %s %s\n", l.n, s.total, stage, subject)
	s.mu.Unlock()
	l.start = s.now()
}

// Reuse marks the running step as one that reused an earlier result (a
// cache hit); its stage counts it in Reused.
func (l *Lane) Reuse() {
	if l.running {
		l.reused = true
	}
}

// End ends the running step, if any: its line is repeated with its
// duration ("[17/66] sbom python:dev  2.3s") and its time added to its
// stage's.
func (l *Lane) End() {
	if !l.running {
		return
	}
	s := l.s
	d := s.now().Sub(l.start)
	l.running = false
	note := ""
	if l.reused {
		note = ", reused"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "[%d/%d] %s %s  %s%s\n", l.n, s.total, l.stage, l.subject, FormatDuration(d), note)
	c := s.clock(l.stage)
	c.steps++
	c.total += d
	if l.reused {
		c.reused++
	} else {
		c.redone = append(c.redone, l.subject)
	}
	if c.steps == 1 || d > c.longest {
		c.longest, c.longestSubject = d, l.subject
	}
}

func (s *Steps) clock(stage string) *stageClock {
	for i := range s.stages {
		if s.stages[i].stage == stage {
			return &s.stages[i]
		}
	}
	s.stages = append(s.stages, stageClock{stage: stage})
	return &s.stages[len(s.stages)-1]
}

// Timings are the stages' times of the steps ended so far; Seconds, the
// run's wall time, is left to the run.
func (s *Steps) Timings() Timings {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Timings{Stages: make([]StageTiming, 0, len(s.stages))}
	for _, c := range s.stages {
		st := StageTiming{Stage: c.stage, Steps: c.steps, Reused: c.reused, Seconds: c.total.Seconds(),
			Longest: StepTiming{Subject: c.longestSubject, Seconds: c.longest.Seconds()}}
		if c.reused > 0 {
			st.Redone = slices.Clone(c.redone)
		}
		t.Stages = append(t.Stages, st)
	}
	return t
}

// FormatDuration is d as a step line and the time table print it: tenths
// of a second under a minute ("2.3s"), whole seconds above ("4m5s").
func FormatDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// FormatSeconds is FormatDuration of a number of seconds.
func FormatSeconds(s float64) string {
	return FormatDuration(time.Duration(s * float64(time.Second)))
}
