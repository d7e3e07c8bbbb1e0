package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/clearcutt/clearcutt/internal/gha"
	"github.com/clearcutt/clearcutt/internal/pipeline"
)

// timingRows are a run's time table: per stage its steps, how many reused
// an earlier result, their time added up and the longest step with what it
// ran on; then the totals, whose time is the run's wall time (less than
// the stages' added up where images were gated at the same time).
func timingRows(tm pipeline.Timings) [][]string {
	var rows [][]string
	steps, reused := 0, 0
	for _, st := range tm.Stages {
		rows = append(rows, []string{st.Stage, strconv.Itoa(st.Steps), strconv.Itoa(st.Reused), pipeline.FormatSeconds(st.Seconds),
			pipeline.FormatSeconds(st.Longest.Seconds) + " " + st.Longest.Subject})
		steps, reused = steps+st.Steps, reused+st.Reused
	}
	return append(rows, []string{"total", strconv.Itoa(steps), strconv.Itoa(reused), pipeline.FormatSeconds(tm.Seconds), "wall time of the run"})
}

// writeTimings writes the time table of a run after a blank line; nothing
// when no step ran.
func writeTimings(w io.Writer, tm pipeline.Timings) error {
	if len(tm.Stages) == 0 {
		return nil
	}
	t := table{header: []string{"STAGE", "STEPS", "REUSED", "TIME", "LONGEST STEP"}}
	for _, r := range timingRows(tm) {
		t.add(r...)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return t.write(w, tableWidth)
}

// timingsMarkdown is the time table of a run in a step summary.
func timingsMarkdown(tm pipeline.Timings) string {
	if len(tm.Stages) == 0 {
		return ""
	}
	var md strings.Builder
	md.WriteString(gha.Heading(4, fmt.Sprintf("Time: %s", pipeline.FormatSeconds(tm.Seconds))))
	t := gha.Table{Header: []string{"Stage", "Steps", "Reused", "Time", "Longest step"}, Limit: -1}
	t.Rows = timingRows(tm)
	md.WriteString(t.Markdown())
	return md.String()
}
