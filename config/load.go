package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setting is one field of Config that has a variable.
type setting struct {
	group string // the embedded group's name, "" for a field of Config itself
	field reflect.StructField
	value reflect.Value // settable
}

func (s setting) env() string         { return s.field.Tag.Get("env") }
func (s setting) tag(k string) string { return s.field.Tag.Get(k) }

// settings lists the fields of c that have a variable, in declaration
// order: Config's own fields, then each group's.
func settings(c *Config) []setting {
	var out []setting
	var walk func(v reflect.Value, group string)
	walk = func(v reflect.Value, group string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(v.Field(i), f.Name)
				continue
			}
			if f.Tag.Get("env") != "" {
				out = append(out, setting{group: group, field: f, value: v.Field(i)})
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// loader reads settings, collecting every problem rather than stopping at
// the first.
type loader struct {
	getenv func(string) string
	errs   []error
}

// fail records that v, read from the variable name, is not what it should
// be: `NAME: "v" is not <what>`.
func (l *loader) fail(name, v string, what error) {
	l.errs = append(l.errs, fmt.Errorf("%s: %q is not %s", name, v, what.Error()))
}

// load sets s from its variable, or from its default when the variable is
// unset (the production default in production). A custom setting gets only
// its default here; Load reads its variable.
func (l *loader) load(s setting, production bool) {
	v := ""
	if s.tag("custom") == "" {
		v = l.getenv(s.env())
	}
	if v == "" {
		v = s.tag("default")
		if p, ok := s.field.Tag.Lookup("production"); ok && production {
			v = p
		}
	}
	if v == "" {
		return
	}
	if got, err := parse(s, v); err != nil {
		l.fail(s.env(), got, err)
	}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	unmarshaler  = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// parse sets s's value from v. On failure it returns v as it should be
// quoted back and what the variable accepts.
func parse(s setting, v string) (string, error) {
	dst := s.value
	switch {
	case dst.Addr().Type().Implements(unmarshaler):
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(v)); err != nil {
			return v, errors.New(s.tag("want"))
		}
	case dst.Type() == durationType:
		d, err := parseDuration(v, s.tag("min") == "0")
		if err != nil {
			return v, err
		}
		dst.SetInt(int64(d))
	case dst.Kind() == reflect.Int:
		lo, hi := bound(s, "min"), bound(s, "max")
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return v, fmt.Errorf("a whole number from %d to %d", lo, hi)
		}
		dst.SetInt(int64(n))
	case dst.Kind() == reflect.Float64:
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < float64(bound(s, "min")) || r > float64(bound(s, "max")) {
			return v, fmt.Errorf("a ratio from %s to %s (%s)", s.tag("min"), s.tag("max"), s.tag("want"))
		}
		dst.SetFloat(r)
	case dst.Kind() == reflect.Bool:
		switch v = strings.ToLower(v); v {
		case "true", "1", "on":
			dst.SetBool(true)
		case "false", "0", "off":
			dst.SetBool(false)
		default:
			return v, errors.New("true or false")
		}
	case dst.Kind() == reflect.String:
		if words := s.tag("oneof"); words != "" && !slices.Contains(strings.Fields(words), v) {
			return v, errors.New(strings.Join(strings.Fields(words), " or "))
		}
		dst.SetString(v)
	default:
		panic(fmt.Sprintf("config: %s (%s): no parser for %s", s.field.Name, s.env(), dst.Type()))
	}
	return v, nil
}

// parseDuration accepts a non-negative duration, zero only when allowed.
func parseDuration(v string, allowZero bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (d == 0 && !allowZero) {
		return 0, errors.New("a valid duration (examples: 5ms, 2s)")
	}
	return d, nil
}

// bound is a numeric setting's min or max tag. Only a custom setting, whose
// variable Load checks itself, may go without; any other missing or
// malformed bound is a mistake in Config, caught by the first test that
// loads it.
func bound(s setting, k string) int {
	if _, ok := s.field.Tag.Lookup(k); !ok && s.tag("custom") != "" {
		return map[string]int{"min": math.MinInt, "max": math.MaxInt}[k]
	}
	n, err := strconv.Atoi(s.tag(k))
	if err != nil {
		panic(fmt.Sprintf("config: %s (%s): %s tag %q is not a whole number", s.field.Name, s.env(), k, s.tag(k)))
	}
	return n
}
