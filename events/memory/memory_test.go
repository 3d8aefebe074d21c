package memory_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/eventstest"
	"github.com/stacker/stacker/events/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	eventstest.Run(t, eventstest.Adapter{
		New: func(t *testing.T, opts events.Options) events.Bus {
			return memory.New(eventstest.Logger(t), opts)
		},
		PublishRaw: func(t *testing.T, bus events.Bus, _ string, payload []byte) {
			if err := bus.(*memory.Bus).PublishRaw(t.Context(), payload); err != nil {
				t.Fatal(err)
			}
		},
	})
}
