package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The seed is fixed so every NewStore builds the same rows: tests can name ids
// and benchmarks compare like with like across runs.
const (
	seedHi = 20260101
	seedLo = 0x5747acce
)

const day = 24 * time.Hour

// seed fills s with the demo data. Rows are generated in one fixed sequence
// from one generator; reordering the steps changes every row after them.
func seed(s *Store) {
	rng := rand.New(rand.NewPCG(seedHi, seedLo))
	base := SeedBase()
	// Sized up front: growing these slices row by row dominated NewStore.
	s.patients = make([]Patient, 0, NumPatients)
	s.cases = make([]Case, 0, NumCases)
	s.appointments = make([]Appointment, 0, NumCases*3+NumCases/4)
	s.documents = make([]Document, 0, NumCases*2+NumCases/4)

	firstNames := []string{
		"Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hannah", "Ivan", "Julia",
		"Karim", "Lena", "Marco", "Nina", "Omar", "Paula", "Quentin", "Rosa", "Samuel", "Tara",
		"Umut", "Vera", "William", "Xenia", "Yusuf", "Zoe", "Amelie", "Jonas", "Leon", "Mia",
		"Noah", "Emma", "Lukas", "Sofia", "Elias", "Laura", "Maximilian", "Ida", "Theo", "Marie",
	}
	lastNames := []string{
		"Schmidt", "Mueller", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Schulz",
		"Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann",
		"Hartmann", "Krueger", "Lange", "Werner", "Kaya", "Yilmaz", "Novak", "Kowalski",
		"Rossi", "Garcia", "Martin", "Dubois", "Jansen", "Nielsen", "Andersson", "Costa",
		"Ivanova", "Papadopoulos", "Nowak", "Silva", "Horvat", "Bauer", "Vogel", "Frank",
	}
	cities := []string{
		"Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart", "Duesseldorf",
		"Leipzig", "Dortmund", "Essen", "Bremen", "Dresden", "Hanover", "Nuremberg", "Freiburg",
	}
	specialties := Specialties()

	insurers := []struct{ name, kind string }{
		{"Allgemeine Ortskasse Nord", "public"}, {"Techniker Gesundheitskasse", "public"},
		{"Barmer Ersatzkasse", "public"}, {"Hanseatic Health Insurance", "private"},
		{"Alpen Krankenversicherung", "private"}, {"Rhein Betriebskrankenkasse", "public"},
		{"Northwind Health", "private"}, {"Lindenhof Versicherung", "private"},
		{"Innungskasse Mitte", "public"}, {"Signet Private Health", "private"},
		{"Elbe Krankenkasse", "public"}, {"Continental Care", "private"},
		{"Knappschaft West", "public"}, {"Aurora Health Assurance", "private"},
		{"Sued Ersatzkasse", "public"}, {"Meridian Medical Insurance", "private"},
		{"Harz Betriebskrankenkasse", "public"}, {"Sonnenberg Privatversicherung", "private"},
		{"Bodensee Krankenkasse", "public"}, {"Atlas Health Partners", "private"},
	}
	for i, in := range insurers[:NumInsurers] {
		s.insurers = append(s.insurers, Insurer{ID: int64(i + 1), Name: in.name, Kind: in.kind})
	}

	for i := range NumPatients {
		id := int64(i + 1)
		first, last := pickOne(rng, firstNames), pickOne(rng, lastNames)
		dob := time.Date(1940+rng.IntN(66), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		s.patients = append(s.patients, Patient{
			ID:          id,
			FirstName:   first,
			LastName:    last,
			DateOfBirth: dob.Format(time.DateOnly),
			Email:       fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first), strings.ToLower(last), id),
			Phone:       fmt.Sprintf("+49 15%d %07d", rng.IntN(10), rng.IntN(10_000_000)),
			InsurerID:   int64(1 + rng.IntN(NumInsurers)),
			City:        pickOne(rng, cities),
			CreatedAt:   base.Add(-seconds(rng.Int64N(3 * 365 * 86400))),
		})
	}

	// A tenth of the staff are admins, who are never assigned cases.
	var assignable []int64
	for i := range NumStaff {
		id := int64(i + 1)
		role := "case_manager"
		switch {
		case i%10 == 0:
			role = "admin"
		case i%3 == 0:
			role = "medical_advisor"
		}
		if role != "admin" {
			assignable = append(assignable, id)
		}
		first, last := pickOne(rng, firstNames), pickOne(rng, lastNames)
		s.staff = append(s.staff, StaffMember{
			ID:    id,
			Name:  first + " " + last,
			Email: fmt.Sprintf("%s.%s.%d@care.example", strings.ToLower(first), strings.ToLower(last), id),
			Role:  role,
		})
	}

	// Names are all combinations of 8 names and 5 kinds, so none repeats.
	clinicNames := []string{"St. Anna", "Lindenhof", "Riverside", "Parkview", "Am Rosengarten", "Sankt Georg", "Westend", "Marienhof"}
	clinicKinds := []string{"Medical Center", "University Hospital", "Specialist Practice", "Clinic", "Health Campus"}
	for i := range NumClinics {
		s.clinics = append(s.clinics, Clinic{
			ID:   int64(i + 1),
			Name: clinicNames[i%len(clinicNames)] + " " + clinicKinds[i/len(clinicNames)%len(clinicKinds)],
			City: pickOne(rng, cities),
		})
	}

	// The first doctors cover every specialty once so no specialty is empty;
	// ratings have one decimal, so ties (ordered by id) are common.
	s.doctorsBySpecialty = make(map[string][]int64, len(specialties))
	for _, sp := range specialties {
		s.doctorsBySpecialty[sp] = []int64{}
	}
	for i := range NumDoctors {
		id := int64(i + 1)
		sp := specialties[i%len(specialties)]
		if i >= len(specialties) {
			sp = pickOne(rng, specialties)
		}
		s.doctors = append(s.doctors, Doctor{
			ID:        id,
			Name:      "Dr. " + pickOne(rng, firstNames) + " " + pickOne(rng, lastNames),
			Specialty: sp,
			ClinicID:  int64(1 + rng.IntN(NumClinics)),
			Rating:    float64(30+rng.IntN(21)) / 10,
		})
		s.doctorsBySpecialty[sp] = append(s.doctorsBySpecialty[sp], id)
	}
	for _, ids := range s.doctorsBySpecialty {
		slices.SortFunc(ids, func(a, b int64) int {
			da, db := &s.doctors[a-1], &s.doctors[b-1]
			if da.Rating != db.Rating {
				if da.Rating > db.Rating {
					return -1
				}
				return 1
			}
			return int(a - b)
		})
	}

	// Nightly bulk updates: about a tenth of the cases carry one of these
	// instants as updated_at, so many cases share a timestamp and the id
	// tie-break of the list order matters.
	batches := make([]time.Time, 40)
	for i := range batches {
		batches[i] = base.Add(-time.Duration(1+rng.IntN(90))*day + 2*time.Hour)
	}
	conditions := map[string][]string{
		"cardiology":       {"atrial fibrillation", "coronary artery disease", "heart failure"},
		"oncology":         {"breast cancer", "lymphoma", "melanoma"},
		"neurology":        {"multiple sclerosis", "epilepsy", "migraine"},
		"orthopedics":      {"herniated disc", "knee replacement", "rotator cuff tear"},
		"dermatology":      {"psoriasis", "atopic dermatitis", "basal cell carcinoma"},
		"gastroenterology": {"Crohn's disease", "ulcerative colitis", "hepatitis C"},
		"endocrinology":    {"type 1 diabetes", "thyroid nodules", "Cushing's syndrome"},
		"pulmonology":      {"COPD", "pulmonary fibrosis", "sleep apnea"},
		"nephrology":       {"chronic kidney disease", "kidney stones", "glomerulonephritis"},
		"rheumatology":     {"rheumatoid arthritis", "lupus", "gout"},
	}
	summaries := []string{
		"Second opinion on %s", "Treatment plan review for %s", "Specialist referral: %s",
		"Follow-up after %s diagnosis", "Cost approval for %s therapy",
	}
	docTitles := map[string][]string{
		"medical_report": {"Discharge summary", "Specialist report", "Referral letter", "Surgical report"},
		"imaging":        {"MRI scan", "CT scan", "X-ray", "Ultrasound"},
		"lab_result":     {"Blood panel", "Biopsy results", "Urinalysis", "Genetic test"},
		"other":          {"Consent form", "Insurance correspondence", "Patient questionnaire"},
	}
	s.apptsByCase = make([][]int64, NumCases)
	s.docsByCase = make([][]int64, NumCases)
	for i := range NumCases {
		id := int64(i + 1)
		sp := pickOne(rng, specialties)
		created := base.Add(-seconds(rng.Int64N(365 * 86400)))
		updated := created.Add(seconds(rng.Int64N(int64(base.Sub(created)/time.Second) + 1)))
		if rng.IntN(10) == 0 {
			if b := pickOne(rng, batches); !b.Before(created) {
				updated = b
			}
		}
		var assignee *int64
		if rng.IntN(10) != 0 {
			a := pickOne(rng, assignable)
			assignee = &a
		}
		s.cases = append(s.cases, Case{
			ID:         id,
			PatientID:  int64(1 + rng.IntN(NumPatients)),
			AssigneeID: assignee,
			Specialty:  sp,
			Status: weighted(rng,
				[]string{StatusNew, StatusInReview, StatusWaitingForDocuments, StatusClosed},
				[]int{30, 30, 15, 25}),
			Priority: weighted(rng,
				[]string{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent},
				[]int{20, 50, 20, 10}),
			Summary:   fmt.Sprintf(pickOne(rng, summaries), pickOne(rng, conditions[sp])),
			CreatedAt: created,
			UpdatedAt: updated,
		})

		// 1..5 appointments (mean 3) with doctors of the case's specialty, in
		// time order; those before SeedBase are mostly completed.
		starts := make([]time.Time, 1+rng.IntN(5))
		for j := range starts {
			starts[j] = created.Truncate(day).
				Add(time.Duration(1+rng.IntN(120)) * day).
				Add(time.Duration(8+rng.IntN(10)) * time.Hour).
				Add(time.Duration(30*rng.IntN(2)) * time.Minute)
		}
		slices.SortFunc(starts, time.Time.Compare)
		for _, at := range starts {
			status := weighted(rng, []string{AppointmentScheduled, AppointmentCancelled}, []int{90, 10})
			if at.Before(base) {
				status = weighted(rng, []string{AppointmentCompleted, AppointmentCancelled}, []int{85, 15})
			}
			a := Appointment{
				ID:       int64(len(s.appointments) + 1),
				CaseID:   id,
				DoctorID: pickOne(rng, s.doctorsBySpecialty[sp]),
				StartsAt: at,
				Status:   status,
			}
			s.appointments = append(s.appointments, a)
			s.apptsByCase[i] = append(s.apptsByCase[i], a.ID)
		}

		// 0..4 documents (mean 2), uploaded while the case was open.
		uploads := make([]time.Time, rng.IntN(5))
		for j := range uploads {
			uploads[j] = created.Add(seconds(rng.Int64N(int64(updated.Sub(created)/time.Second) + 1)))
		}
		slices.SortFunc(uploads, time.Time.Compare)
		for _, at := range uploads {
			kind := weighted(rng, []string{"medical_report", "imaging", "lab_result", "other"}, []int{35, 25, 30, 10})
			size := logUniform(rng, 15_000, 8_000_000)
			if kind == "imaging" {
				size = logUniform(rng, 2_000_000, 250_000_000)
			}
			d := Document{
				ID:         int64(len(s.documents) + 1),
				CaseID:     id,
				Kind:       kind,
				Title:      pickOne(rng, docTitles[kind]) + " " + at.Format(time.DateOnly),
				SizeBytes:  size,
				UploadedAt: at,
			}
			s.documents = append(s.documents, d)
			s.docsByCase[i] = append(s.docsByCase[i], d.ID)
		}
	}
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

func pickOne[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// weighted picks xs[i] with probability weights[i]/sum(weights).
func weighted(rng *rand.Rand, xs []string, weights []int) string {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	n := rng.IntN(sum)
	for i, w := range weights {
		if n < w {
			return xs[i]
		}
		n -= w
	}
	return xs[len(xs)-1]
}

// logUniform draws sizes spread evenly across orders of magnitude, as file
// sizes are.
func logUniform(rng *rand.Rand, lo, hi float64) int64 {
	return int64(math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo))))
}
