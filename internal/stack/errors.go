package stack

import (
	"errors"
	"strings"
)

// ErrNotFound means there is no trio.yaml where one was looked for.
var ErrNotFound = errors.New("no trio.yaml found")

// Error is one problem in a trio.yaml, placed at the key it concerns.
type Error struct {
	Pos  Pos
	Path string // dotted key path such as "web.listen"
	Msg  string // what is wrong and, after "; ", what to do
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors collects every problem found in one file, so a user fixes them all
// in one go instead of one per run.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the first *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
