// Drives the diego-rs compatibility gateway with the real Go BBS client
// (code.cloudfoundry.org/bbs). The gateway address comes from
// DIEGO_GATEWAY_URL (e.g. http://127.0.0.1:8890); the Rust test
// control-plane/gateway/tests/go_client.rs starts one and sets it.
package compat_test

import (
	"os"
	"testing"
	"time"

	"code.cloudfoundry.org/bbs"
	"code.cloudfoundry.org/bbs/events"
	"code.cloudfoundry.org/bbs/models"
	"code.cloudfoundry.org/lager/v3/lagertest"
)

func client(t *testing.T) bbs.InternalClient {
	url := os.Getenv("DIEGO_GATEWAY_URL")
	if url == "" {
		t.Skip("DIEGO_GATEWAY_URL is not set")
	}
	c, err := bbs.NewClientWithConfig(bbs.ClientConfig{URL: url, IsTLS: false, Retries: 1})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

func errType(err error) models.Error_Type {
	return models.ConvertError(err).Type
}

func taskDef() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs:   "docker:///busybox",
		MemoryMb: 64,
		DiskMb:   64,
		Action: models.WrapAction(&models.RunAction{
			Path: "/bin/true",
			User: "root",
		}),
	}
}

func TestPingAndDomains(t *testing.T) {
	c := client(t)
	logger := lagertest.NewTestLogger("compat")
	if !c.Ping(logger, "trace-ping") {
		t.Fatal("ping returned false")
	}
	if err := c.UpsertDomain(logger, "t", "go-domain", 0); err != nil {
		t.Fatalf("upsert domain: %v", err)
	}
	domains, err := c.Domains(logger, "t")
	if err != nil {
		t.Fatalf("domains: %v", err)
	}
	found := false
	for _, d := range domains {
		found = found || d == "go-domain"
	}
	if !found {
		t.Fatalf("go-domain missing from %v", domains)
	}
}

func TestTaskLifecycleAndEvents(t *testing.T) {
	c := client(t)
	logger := lagertest.NewTestLogger("compat")
	es, err := c.SubscribeToTaskEvents(logger)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer es.Close()

	if err := c.DesireTask(logger, "t", "go-task", "go-domain", taskDef()); err != nil {
		t.Fatalf("desire: %v", err)
	}
	if err := c.DesireTask(logger, "t", "go-task", "go-domain", taskDef()); errType(err) != models.Error_ResourceExists {
		t.Fatalf("duplicate desire: want ResourceExists, got %v", err)
	}
	if err := c.DesireTask(logger, "t", "bad guid", "go-domain", taskDef()); errType(err) != models.Error_InvalidRequest {
		t.Fatalf("bad guid: want InvalidRequest, got %v", err)
	}
	tasks, err := c.Tasks(logger, "t")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("tasks: %v %v", tasks, err)
	}
	task, err := c.TaskByGuid(logger, "t", "go-task")
	if err != nil || task.State != models.Task_Pending {
		t.Fatalf("task by guid: %v %v", task, err)
	}
	if _, err := c.TaskByGuid(logger, "t", "no-such-task"); errType(err) != models.Error_ResourceNotFound {
		t.Fatalf("missing task: want ResourceNotFound, got %v", err)
	}
	if err := c.CancelTask(logger, "t", "go-task"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := c.ResolvingTask(logger, "t", "go-task"); err != nil {
		t.Fatalf("resolving: %v", err)
	}
	if err := c.DeleteTask(logger, "t", "go-task"); err != nil {
		t.Fatalf("delete: %v", err)
	}

	// created, changed (cancelled), changed (resolving), removed, in order.
	want := []string{"task_created", "task_changed", "task_changed", "task_removed"}
	for i, name := range want {
		ev := next(t, es)
		if ev.EventType() != name {
			t.Fatalf("event %d: want %s, got %s", i, name, ev.EventType())
		}
		if name == "task_created" {
			if ev.(*models.TaskCreatedEvent).Task.TaskGuid != "go-task" {
				t.Fatalf("created event for the wrong task: %v", ev)
			}
		}
	}
}

func next(t *testing.T, es events.EventSource) models.Event {
	type result struct {
		ev  models.Event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ev, err := es.Next()
		ch <- result{ev, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("next event: %v", r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return nil
}

func TestLRPLifecycleAndEvents(t *testing.T) {
	c := client(t)
	logger := lagertest.NewTestLogger("compat")
	es, err := c.SubscribeToInstanceEvents(logger)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer es.Close()

	lrp := &models.DesiredLRP{
		ProcessGuid: "go-lrp",
		Domain:      "go-domain",
		RootFs:      "docker:///busybox",
		Instances:   2,
		MemoryMb:    64,
		DiskMb:      64,
		Ports:       []uint32{8080},
		Action: models.WrapAction(&models.RunAction{
			Path: "/bin/sleep",
			Args: []string{"3600"},
			User: "root",
		}),
		MetricTags: map[string]*models.MetricTagValue{
			"source_id": {Static: "go-lrp"},
		},
	}
	if err := c.DesireLRP(logger, "t", lrp); err != nil {
		t.Fatalf("desire lrp: %v", err)
	}
	if err := c.DesireLRP(logger, "t", lrp); errType(err) != models.Error_ResourceExists {
		t.Fatalf("duplicate lrp: want ResourceExists, got %v", err)
	}
	got, err := c.DesiredLRPByProcessGuid(logger, "t", "go-lrp")
	if err != nil || got.Instances != 2 || len(got.Ports) != 1 || got.Ports[0] != 8080 {
		t.Fatalf("get lrp: %v %v", got, err)
	}
	actuals, err := c.ActualLRPs(logger, "t", models.ActualLRPFilter{ProcessGuid: "go-lrp"})
	if err != nil || len(actuals) != 2 {
		t.Fatalf("actual lrps: %v %v", actuals, err)
	}
	zero := int32(0)
	one, err := c.ActualLRPs(logger, "t", models.ActualLRPFilter{ProcessGuid: "go-lrp", Index: &zero})
	if err != nil || len(one) != 1 || one[0].State != models.ActualLRPStateUnclaimed {
		t.Fatalf("actual lrps index 0: %v %v", one, err)
	}

	update := &models.DesiredLRPUpdate{}
	update.SetInstances(3)
	if err := c.UpdateDesiredLRP(logger, "t", "go-lrp", update); err != nil {
		t.Fatalf("scale: %v", err)
	}
	annotated := &models.DesiredLRPUpdate{}
	annotated.SetAnnotation("updated")
	if err := c.UpdateDesiredLRP(logger, "t", "go-lrp", annotated); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := c.RemoveDesiredLRP(logger, "t", "go-lrp"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := c.RemoveDesiredLRP(logger, "t", "go-lrp"); errType(err) != models.Error_ResourceNotFound {
		t.Fatalf("remove again: want ResourceNotFound, got %v", err)
	}

	want := []string{
		"desired_lrp_created", "actual_lrp_instance_created", "actual_lrp_instance_created",
		"desired_lrp_changed", "actual_lrp_instance_created",
		"desired_lrp_changed",
		"desired_lrp_removed",
	}
	for i, name := range want {
		ev := next(t, es)
		if ev.EventType() != name {
			t.Fatalf("event %d: want %s, got %s", i, name, ev.EventType())
		}
	}
}
