package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// DefaultMaxUploadBytes caps an uploaded file when Options.MaxUploadBytes
// is 0: the service's own limit, above the gateway's default 50 MiB.
const DefaultMaxUploadBytes = 100 << 20

// maxUploadField bounds one form field of an upload (case id, kind, title).
const maxUploadField = 4 << 10

// acceptedUploadTypes are the file types the documents service stores:
// what medical documents come as.
var acceptedUploadTypes = map[string]bool{
	"application/pdf":   true,
	"image/png":         true,
	"image/jpeg":        true,
	"application/dicom": true,
	"text/plain":        true,
}

// uploadDocument serves a multipart POST /documents, the Rails form
// document[case_id], document[kind], document[title], then
// document[file]. The fields are checked before a byte of the file is
// read (an unknown case is 404, as Rails' Case.find; the rest is the store's
// rule, 422), then the file is streamed through SHA-256 and a byte count
// and dropped: the demo keeps metadata only. The document is stored, and
// document.uploaded published, only once the whole body has arrived
// intact; a body that breaks off, or a file over the limit, stores nothing.
func (s *Services) uploadDocument(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload+maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "malformed multipart body")
		return
	}
	var in DocumentInput
	var caseID string
	for {
		part, err := mr.NextPart()
		if err != nil {
			s.writeUploadError(w, err, "the document[file] part is missing")
			return
		}
		name := part.FormName()
		if name == "document[file]" {
			if !s.checkUpload(w, &in, caseID, part.Header.Get("Content-Type")) {
				return
			}
			h := sha256.New()
			n, err := io.Copy(h, io.LimitReader(part, s.maxUpload+1))
			switch {
			case err != nil:
				s.writeUploadError(w, err, "")
				return
			case n > s.maxUpload:
				s.writeError(w, http.StatusRequestEntityTooLarge, "the file exceeds "+strconv.FormatInt(s.maxUpload, 10)+" bytes")
				return
			}
			in.SizeBytes, in.SHA256 = &n, hex.EncodeToString(h.Sum(nil))
			break
		}
		v, err := io.ReadAll(io.LimitReader(part, maxUploadField+1))
		if err != nil {
			s.writeUploadError(w, err, "")
			return
		}
		if len(v) > maxUploadField {
			s.writeError(w, http.StatusBadRequest, name+" is too long")
			return
		}
		switch name {
		case "document[case_id]":
			caseID = string(v)
		case "document[kind]":
			in.Kind = string(v)
		case "document[title]":
			in.Title = string(v)
		}
	}
	// Intact means the closing boundary arrived: a body cut off after the
	// file's bytes is still a broken upload.
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			_, err = io.Copy(io.Discard, io.LimitReader(part, maxUploadField))
		}
		if err != nil {
			s.writeUploadError(w, err, "")
			return
		}
	}
	s.storeDocument(w, r, in)
}

// checkUpload checks the fields that came before the file, and the file's
// type, answering and reporting false when they are refused.
func (s *Services) checkUpload(w http.ResponseWriter, in *DocumentInput, caseID, contentType string) bool {
	var verr ValidationError
	if caseID != "" {
		id, err := strconv.ParseInt(caseID, 10, 64)
		if err != nil {
			verr.add("case_id", "is not a number")
		} else {
			in.CaseID = &id
		}
	}
	if in.CaseID != nil {
		if _, ok := s.store.Case(*in.CaseID); !ok {
			s.writeError(w, http.StatusNotFound, "case not found")
			return false
		}
	}
	if err := s.store.CheckDocument(*in); err != nil {
		var sv *ValidationError
		if errors.As(err, &sv) {
			for f, msgs := range sv.Fields {
				for _, m := range msgs {
					verr.add(f, m)
				}
			}
		}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case contentType == "":
		verr.add("file", "content type can't be blank")
	case err != nil:
		verr.add("file", "content type is not a media type")
	case !acceptedUploadTypes[mt]:
		verr.add("file", "content type "+clipType(mt)+" is not accepted")
	default:
		in.ContentType = mt
	}
	if err := verr.err(); err != nil {
		s.writeErrors(w, verr.Fields)
		return false
	}
	return true
}

// clipType keeps a refused content type short enough to quote back.
func clipType(mt string) string {
	if len(mt) > 100 {
		return mt[:100] + "..."
	}
	return mt
}

// writeUploadError answers a body that could not be read: too large (413),
// or broken off or malformed (400). missing, when set, is the answer to a
// body that ended cleanly where more was due.
func (s *Services) writeUploadError(w http.ResponseWriter, err error, missing string) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.writeError(w, http.StatusRequestEntityTooLarge, "the request body is too large")
	case missing != "" && errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		s.writeError(w, http.StatusBadRequest, missing)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		s.writeError(w, http.StatusBadRequest, "the request body ended before the upload was complete")
	default:
		s.writeError(w, http.StatusBadRequest, "malformed multipart body")
	}
}
