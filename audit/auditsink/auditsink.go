// Package auditsink opens the audit trail's sink a STACKER_AUDIT spec names:
//
//	off                                   no trail
//	stderr                                JSON lines on the process's stderr
//	file:/path                            JSON lines appended to a file (created 0600)
//	nats://host:4222[?topic=NAME]         JSON messages on a NATS subject
//	redis://host:6379/0[?topic=NAME]      entries of a Redis stream
//	kafka://host:9092[?topic=NAME]        records of a Kafka topic
//
// The broker URLs are STACKER_EVENTS_URL's (package events/eventsurl),
// memory:// excepted; the topic defaults to audit.DefaultTopic. It lives
// apart from package audit because it imports every broker client, which
// the packages using the trail need not.
package auditsink

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/events/eventsurl"
)

// CheckSpec reports whether spec is a valid STACKER_AUDIT, without opening
// anything. Errors never repeat a password.
func CheckSpec(spec string) error {
	switch {
	case spec == "off", spec == "stderr":
		return nil
	case strings.HasPrefix(spec, "file:"):
		if spec == "file:" {
			return fmt.Errorf("%q names no file", spec)
		}
		return nil
	case strings.Contains(spec, "://"):
		_, err := eventsurl.ParsePublisher(spec)
		return err
	}
	return fmt.Errorf("%q is not off, stderr, file:/path or a broker URL (nats://, redis://, kafka://)", spec)
}

// Open opens the sink spec names: nil for off; stderr is the one given (the
// process's, as run was given it). A broker must answer now. logger gets
// the broker connection's own log lines, which name the topic and server,
// never a record or a password.
func Open(ctx context.Context, spec string, stderr io.Writer, logger *slog.Logger) (audit.Sink, error) {
	if err := CheckSpec(spec); err != nil {
		return nil, err
	}
	switch {
	case spec == "off":
		return nil, nil
	case spec == "stderr":
		return audit.NewLineSink(stderr), nil
	case strings.HasPrefix(spec, "file:"):
		f, err := os.OpenFile(strings.TrimPrefix(spec, "file:"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return audit.NewLineSink(f), nil
	}
	p, err := eventsurl.OpenPublisher(ctx, spec, logger, audit.DefaultTopic)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return audit.NewBusSink(p, audit.PublishTimeout), nil
}
