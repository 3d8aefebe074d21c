package config

import (
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// docDefault is a setting's default as docs/configuration.md shows it.
func docDefault(s setting) string {
	d := s.tag("default")
	if d == "" {
		return "unset"
	}
	d = "`" + d + "`"
	if p, ok := s.field.Tag.Lookup("production"); ok {
		d += " (`" + p + "` in production)"
	}
	return d
}

// docSection is the heading a group's variables are listed under.
func docSection(group string) string {
	if group == "" {
		return "Environment"
	}
	return group
}

// generic turns a per-service variable into its pattern:
// STACKER_DOCTORS_TIMEOUT -> STACKER_<SERVICE>_TIMEOUT.
func generic(name string) string {
	for _, s := range Services() {
		if rest, ok := strings.CutPrefix(name, "STACKER_"+strings.ToUpper(s)+"_"); ok && (rest == "URL" || rest == "TIMEOUT" || rest == "IDENTITY") {
			return "STACKER_<SERVICE>_" + rest
		}
	}
	return name
}

type docRow struct{ section, def string }

// readDocs parses the tables of docs/configuration.md: variable -> its
// section heading and default column.
func readDocs(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	section := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = h
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			t.Errorf("docs: row %q: want 3 cells (variable, default, meaning)", line)
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[0]), "`")
		if _, dup := rows[name]; dup {
			t.Errorf("docs: %s is listed twice", name)
		}
		rows[name] = docRow{section: section, def: strings.TrimSpace(cells[1])}
	}
	return rows
}

// docs/configuration.md lists exactly the variables Load reads, each with
// its default from config.go and under its group's heading.
func TestDocsListEveryVariable(t *testing.T) {
	var c Config
	declared := map[string]setting{}
	for _, s := range settings(&c) {
		declared[s.env()] = s
	}

	// What Load reads is what it asks getenv for, in development and in
	// production; every one must be declared in a tag.
	read := map[string]bool{}
	for _, env := range []string{"development", "production"} {
		Load(func(k string) string {
			read[generic(k)] = true
			if k == "STACKER_ENV" {
				return env
			}
			return ""
		})
	}
	if got, want := slices.Sorted(maps.Keys(read)), slices.Sorted(maps.Keys(declared)); !slices.Equal(got, want) {
		t.Errorf("Load reads %v\nbut Config declares %v", got, want)
	}

	doc := readDocs(t)
	for name, s := range declared {
		row, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("docs/configuration.md does not list %s (config.%s)", name, s.field.Name)
		case row.def != docDefault(s):
			t.Errorf("docs/configuration.md: %s defaults to %s, config.go to %s", name, row.def, docDefault(s))
		case !strings.EqualFold(strings.ReplaceAll(row.section, " ", ""), docSection(s.group)):
			t.Errorf("docs/configuration.md: %s is under %q, want %q (config.%s)", name, row.section, docSection(s.group), s.group)
		}
	}
	for name := range doc {
		if _, ok := declared[name]; !ok {
			t.Errorf("docs/configuration.md lists %s, which config does not read", name)
		}
	}
}

// Every default parses (a bad one would be reported as the variable's
// error on every start), and the groups' field names are unique, so that
// each can be named without its group (cfg.MaxDepth).
func TestDeclarations(t *testing.T) {
	if _, err := Load(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	var c Config
	ct := reflect.TypeOf(c)
	for i := range ct.NumField() {
		g := ct.Field(i)
		if !g.Anonymous {
			continue
		}
		for j := range g.Type.NumField() {
			f := g.Type.Field(j).Name
			if other, dup := seen[f]; dup {
				t.Errorf("%s.%s and %s.%s: a field name must be unique across groups", other, f, g.Name, f)
			}
			seen[f] = g.Name
		}
	}
	for _, s := range settings(&c) {
		if _, custom := s.field.Tag.Lookup("custom"); custom || s.value.Addr().Type().Implements(unmarshaler) {
			continue
		}
		switch s.value.Kind() {
		case reflect.Int, reflect.Float64:
			if _, ok := s.field.Tag.Lookup("min"); !ok {
				t.Errorf("%s (%s) has no min tag", s.field.Name, s.env())
			}
			if _, ok := s.field.Tag.Lookup("max"); !ok {
				t.Errorf("%s (%s) has no max tag", s.field.Name, s.env())
			}
		}
	}
}
