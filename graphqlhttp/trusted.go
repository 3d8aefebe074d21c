package graphqlhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeNotInList is the code of an operation refused in trusted-documents mode.
const CodeNotInList = "PERSISTED_QUERY_NOT_IN_LIST"

// TrustedDocuments runs only the operations a front-end build registered:
// a request names one by hash (extensions.persistedQuery.sha256Hash, as
// Apollo's persisted-queries link sends) or sends a document whose hash is
// listed. Anything else is refused, unless Enforce is off (development),
// where it runs with a warning in the log.
type TrustedDocuments struct {
	docs    map[string]string // id or sha256 -> document
	enforce bool
	log     *slog.Logger
}

// LoadTrustedDocuments reads a manifest: Apollo's persisted query manifest
// ({"format":"apollo-persisted-query-manifest","operations":[{"id","body"}]})
// or a plain map of id to document, as GraphQL Code Generator and Relay emit.
func LoadTrustedDocuments(path string, enforce bool, log *slog.Logger) (*TrustedDocuments, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	var apollo struct {
		Format     string `json:"format"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(raw, &apollo); err == nil && apollo.Format != "" {
		for _, op := range apollo.Operations {
			docs[op.ID] = op.Body
		}
	} else {
		plain := map[string]string{}
		if err := json.Unmarshal(raw, &plain); err != nil {
			return nil, fmt.Errorf("%s: neither an Apollo persisted query manifest nor a JSON map of id to document: %w", path, err)
		}
		docs = plain
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: lists no documents", path)
	}
	for _, d := range docs {
		docs[hash(d)] = d // clients may send the document itself
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TrustedDocuments{docs: docs, enforce: enforce, log: log}, nil
}

func hash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// Len is the number of ways to name a listed document.
func (t *TrustedDocuments) Len() int { return len(t.docs) }

// ExtensionName implements graphql.HandlerExtension.
func (t *TrustedDocuments) ExtensionName() string { return "TrustedDocuments" }

// Validate implements graphql.HandlerExtension.
func (t *TrustedDocuments) Validate(graphql.ExecutableSchema) error {
	if len(t.docs) == 0 {
		return errors.New("trusted documents: empty list")
	}
	return nil
}

// MutateOperationParameters resolves or refuses the document.
func (t *TrustedDocuments) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if id := persistedHash(p.Extensions); id != "" && p.Query == "" {
		doc, ok := t.docs[id]
		if !ok {
			return t.refuse("no trusted document has the id %q", clip(id))
		}
		p.Query = doc
		delete(p.Extensions, "persistedQuery") // resolved here, not by APQ
		return nil
	}
	if p.Query == "" {
		return nil
	}
	if _, ok := t.docs[hash(p.Query)]; ok {
		return nil
	}
	if !t.enforce {
		t.log.Warn("trusted documents: running an unlisted operation (allowed in development only)", "operation", clip(p.OperationName))
		return nil
	}
	return t.refuse("this operation is not in the trusted documents list; only operations registered by a front-end build can run here")
}

func (t *TrustedDocuments) refuse(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": CodeNotInList}}
}

func persistedHash(ext map[string]any) string {
	pq, ok := ext["persistedQuery"].(map[string]any)
	if !ok {
		return ""
	}
	h, _ := pq["sha256Hash"].(string)
	return h
}
