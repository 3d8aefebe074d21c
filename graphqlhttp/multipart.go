package graphqlhttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Incremental delivery over multipart/mixed, in the format of the
// deferSpec=20220824 that Apollo Client's Defer20220824Handler asks for
// (and Apollo Router writes): a part per payload, each
// `Content-Type: application/json; charset=utf-8`, the boundary "-". The
// first payload is {"data":...,"hasNext":true}; each later one is
// {"incremental":[{"data":...,"path":[...],"label":...,"errors":[...]}],
// "hasNext":...}, the last with hasNext false, and "-----" closes the body.
// gqlgen's own MultipartMixed transport writes the same payloads, but it
// would have to claim the request before this transport, and so would
// answer request errors with its statuses rather than the specification's
// (see Transport); it also batches payloads on a timer, which is not needed
// here.
//
// Only an operation whose first response says more is to come is streamed;
// any other answer, to a client that accepts multipart/mixed too, is the
// usual single JSON document.

const (
	multipartBoundary = "-"
	multipartType     = `multipart/mixed; boundary="` + multipartBoundary + `"; deferSpec=20220824`
	partHeader        = "\r\n--" + multipartBoundary + "\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
	multipartEnd      = "\r\n--" + multipartBoundary + "--\r\n"
)

// acceptsMultipart reports whether Accept lets deferred payloads come as
// multipart/mixed: a multipart/mixed range with no spec parameter (urql
// sends none) or with deferSpec=20220824. One naming another format (a
// later incremental delivery draft, or Apollo's multipart subscriptions)
// is not this one, and such a client gets its deferred fields inline.
func acceptsMultipart(accept []string) bool {
	for mt, params := range mediaRanges(accept) {
		if mt != "multipart/mixed" {
			continue
		}
		spec, named := params["deferspec"]
		_, incremental := params["incrementalspec"]
		_, subscription := params["subscriptionspec"]
		if (!named || spec == "20220824") && !incremental && !subscription {
			return true
		}
	}
	return false
}

// more reports whether resp says further payloads follow.
func more(resp *graphql.Response) bool { return resp.HasNext != nil && *resp.HasNext }

// stream writes first and every later payload next returns as one
// multipart/mixed answer, flushing each part as it is written. It calls
// next until nil even once the client has gone or the last payload is
// written: the operation ends its work only then (gqlgen's executor returns
// nil at once for a client that has gone).
func (t *Transport) stream(w http.ResponseWriter, first *graphql.Response, next func() *graphql.Response) {
	h := w.Header()
	h.Set("Content-Type", multipartType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	buf := t.getBuf()
	defer t.putBuf(buf)
	part := func(resp *graphql.Response, write func(*bytes.Buffer, *graphql.Response)) {
		buf.Reset()
		buf.WriteString(partHeader)
		write(buf, resp)
		w.Write(buf.Bytes())
		_ = rc.Flush()
	}
	part(first, writeResponse)
	open := more(first)
	for resp := next(); resp != nil; resp = next() {
		if open {
			part(resp, writeSubsequent)
			open = more(resp)
		}
	}
	io.WriteString(w, multipartEnd)
}

// writeSubsequent writes a later payload: the deferred fragment's data with
// its path, label and errors as an incremental entry. A payload that has no
// path is not a fragment's (an error about the whole operation, such as
// AUDIT_UNAVAILABLE) and is written as a response of its own.
func writeSubsequent(buf *bytes.Buffer, resp *graphql.Response) {
	if resp.Path == nil {
		writeResponse(buf, resp)
		return
	}
	o := jsonObject{buf: buf}
	o.key("incremental")
	buf.WriteByte('[')
	item := jsonObject{buf: buf}
	item.errors(resp.Errors)
	item.raw("data", resp.Data)
	item.value("path", resp.Path)
	if resp.Label != "" {
		item.value("label", resp.Label)
	}
	item.close()
	buf.WriteByte(']')
	o.tail(resp)
	o.close()
}

// jsonObject writes a JSON object's members in order.
type jsonObject struct {
	buf  *bytes.Buffer
	open bool
}

func (o *jsonObject) key(k string) {
	if o.open {
		o.buf.WriteByte(',')
	} else {
		o.buf.WriteByte('{')
		o.open = true
	}
	o.buf.WriteByte('"')
	o.buf.WriteString(k)
	o.buf.WriteString(`":`)
}

// raw writes a member whose value is already JSON.
func (o *jsonObject) raw(k string, v []byte) {
	o.key(k)
	o.buf.Write(v)
}

func (o *jsonObject) value(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	o.raw(k, b)
}

func (o *jsonObject) errors(errs gqlerror.List) {
	if len(errs) == 0 {
		return
	}
	b, err := json.Marshal(errs)
	if err != nil {
		b = []byte(`[{"message":"internal error","extensions":{"code":"INTERNAL"}}]`)
	}
	o.raw("errors", b)
}

// tail writes what ends every response: its extensions, and hasNext in
// a streamed one.
func (o *jsonObject) tail(resp *graphql.Response) {
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			o.raw("extensions", b)
		}
	}
	if resp.HasNext != nil {
		o.value("hasNext", *resp.HasNext)
	}
}

func (o *jsonObject) close() {
	if !o.open {
		o.buf.WriteByte('{')
	}
	o.buf.WriteByte('}')
}
