// Fuzzes every agent-side decoder of upstream answers: each task kind in
// DefaultHandlerRegistry() (agent/handlers/all_handlers.h), through the same
// path the worker loop takes, DecideOutcome (single-request kinds) or Run
// with a fetcher then DecideRunOutcome (multi-request kinds), which also
// reads the answers' status, ETag, Expires, Retry-After and
// X-ESI-Error-Limit-Reset (agent/core/outcome.h).
//
// Input (text, so seeds stay readable):
//   line 1     <kind> <entity_id> [key=value ...]   the task; keys fill its
//              context: hash= (killmail); token= last= problem=
//              (character_killmails); stream= realm= cursor= (PoE streams);
//              etags=<page>:<etag>,... (contracts_region); context=none drops
//              it, context=wrong sends another message type
//   then       the answers, separated by a line "%%" (never inside JSON):
//              an optional "@<status>" line (default 200), header lines
//              "Name: value", then the body. A single-request kind reads the
//              first; a multi-request kind gets them in order, then a
//              transport error.
//
// Checks: no crash, exception, leak or sanitizer report on any answer; the
// outcome is a wire-valid CompleteTaskRequest or FailTaskRequest (it
// serializes and parses back equal, proto3 strings being valid UTF-8), and
// so is the kind's payload inside it; every timestamp is one
// google.protobuf.Timestamp can hold; discovered ids are positive and
// distinct; a Retry-After is within [0, kMaxRetryAfter]; the payload's JSON
// text fields hold no NUL byte.
#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/core/outcome.h"
#include "agent/handlers/all_handlers.h"
#include "common/http_date.h"
#include "common/text.h"
#include "common/time_util.h"
#include "sluice/v1/contracts.pb.h"
#include "sluice/v1/killmails.pb.h"
#include "sluice/v1/poe.pb.h"

namespace {

namespace pb = google::protobuf;
using sluice::agent::HttpResponse;

const std::string* g_input = nullptr;

void Fail(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  if (g_input != nullptr) std::fprintf(stderr, "input:\n%s\n", g_input->c_str());
  std::abort();
}

void Expect(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

const sluice::agent::HandlerSet& Handlers() {
  static const sluice::agent::HandlerSet* set = [] {
    sluice::agent::HandlerConfig config;
    config.esi_token = "fuzz-token";  // enables the kinds that need one
    const sluice::agent::HandlerRegistry registry = sluice::agent::DefaultHandlerRegistry();
    auto* handlers = new sluice::agent::HandlerSet(registry.Instantiate(config));
    // A kind that is registered but not enabled here would go unfuzzed.
    if (handlers->Kinds() != registry.Kinds()) Fail("a registered kind is not instantiated");
    return handlers;
  }();
  return *set;
}

// The task line: "<kind> <entity_id> key=value ...".
struct TaskLine {
  std::string kind;
  int64_t entity_id = 0;
  std::map<std::string, std::string> params;
};

TaskLine ParseTaskLine(absl::string_view line) {
  TaskLine out;
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (!words.empty()) out.kind = std::string(words[0]);
  if (words.size() > 1 && !absl::SimpleAtoi(words[1], &out.entity_id)) out.entity_id = 0;
  for (size_t i = 2; i < words.size(); ++i) {
    std::pair<std::string, std::string> kv = absl::StrSplit(words[i], absl::MaxSplits('=', 1));
    out.params[kv.first] = kv.second;
  }
  return out;
}

std::string Param(const TaskLine& t, const std::string& key) {
  auto it = t.params.find(key);
  return it == t.params.end() ? "" : it->second;
}

int64_t IntParam(const TaskLine& t, const std::string& key) {
  int64_t v = 0;
  return absl::SimpleAtoi(Param(t, key), &v) ? v : 0;
}

// The context the coordinator attaches to a lease of `t.kind`, from the
// task line's keys.
void SetContext(const TaskLine& t, sluice::v1::Task* task) {
  const std::string mode = Param(t, "context");
  if (mode == "none") return;
  if (mode == "wrong") {
    task->mutable_context()->PackFrom(sluice::v1::Task());
    return;
  }
  if (t.kind == "killmail") {
    sluice::v1::KillmailContext c;
    c.set_killmail_hash(Param(t, "hash"));
    task->mutable_context()->PackFrom(c);
  } else if (t.kind == "character_killmails") {
    sluice::v1::CharacterKillmailsContext c;
    c.set_access_token(Param(t, "token"));
    c.set_last_killmail_id(IntParam(t, "last"));
    c.set_token_problem(Param(t, "problem"));
    task->mutable_context()->PackFrom(c);
  } else if (t.kind == "poe_stash_stream" || t.kind == "poe_exchange_stream") {
    sluice::v1::PoeStreamContext c;
    c.set_stream(Param(t, "stream"));
    c.set_realm(Param(t, "realm"));
    c.set_cursor(Param(t, "cursor"));
    task->mutable_context()->PackFrom(c);
  } else if (t.kind == "contracts_region") {
    sluice::v1::ContractRegionContext c;
    for (absl::string_view entry : absl::StrSplit(Param(t, "etags"), ',', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(entry, absl::MaxSplits(':', 1));
      int page = 0;
      if (!absl::SimpleAtoi(kv.first, &page)) continue;
      sluice::v1::ContractPageEtag* p = c.add_pages();
      p->set_page(page);
      p->set_etag(std::string(kv.second));
    }
    task->mutable_context()->PackFrom(c);
  }
}

// One answer: ["@<status>"] ["Name: value"]... body.
HttpResponse ParseAnswer(absl::string_view text) {
  HttpResponse r;
  r.status = 200;
  auto next_line = [&text]() {
    const size_t end = text.find('\n');
    absl::string_view line = text.substr(0, end);
    text = end == absl::string_view::npos ? absl::string_view() : text.substr(end + 1);
    return line;
  };
  if (absl::StartsWith(text, "@")) {
    absl::string_view line = next_line();
    int status = 0;
    if (absl::SimpleAtoi(line.substr(1), &status)) r.status = status;
  }
  // A header line starts with a letter and has a colon after a token; no
  // JSON text starts like that.
  while (!text.empty() && absl::ascii_isalpha(static_cast<unsigned char>(text[0]))) {
    const size_t end = std::min(text.find('\n'), text.size());
    const size_t colon = text.substr(0, end).find(':');
    if (colon == absl::string_view::npos) break;
    absl::string_view name = text.substr(0, colon);
    bool token = true;
    for (char c : name)
      token = token && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    if (!token) break;
    absl::string_view line = next_line();
    std::string_view value(line.data() + colon + 1, line.size() - colon - 1);
    r.headers.Add(std::string(name), std::string(sluice::agent::TrimWhitespace(value)));
  }
  r.body = std::string(text);
  return r;
}

class FakeFetcher final : public sluice::agent::Fetcher {
 public:
  explicit FakeFetcher(std::vector<HttpResponse> answers) : answers_(std::move(answers)) {}

  absl::StatusOr<HttpResponse> Fetch(const sluice::agent::UpstreamRequest& request) override {
    Expect(!request.url.empty(), "a fetch without a URL");
    if (next_ >= answers_.size()) {
      failure = sluice::agent::FetchFailure::kTransport;
      return absl::UnavailableError("fuzz: no more answers");
    }
    const HttpResponse& answer = answers_[next_++];
    if (auto expires = answer.headers.GetDate("Expires")) {
      if (!latest_expires || *expires > *latest_expires) latest_expires = expires;
    }
    return answer;
  }

  sluice::agent::FetchFailure failure = sluice::agent::FetchFailure::kNone;
  std::optional<sluice::TimePoint> latest_expires;  // as the agent's fetcher keeps it

 private:
  std::vector<HttpResponse> answers_;
  size_t next_ = 0;
};

// google.protobuf.Timestamp's valid range: 0001-01-01 .. 9999-12-31.
void CheckTimestamps(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  if (d->full_name() == "google.protobuf.Timestamp") {
    const int64_t seconds = r->GetInt64(m, d->FindFieldByName("seconds"));
    const int32_t nanos = r->GetInt32(m, d->FindFieldByName("nanos"));
    Expect(seconds >= -62135596800 && seconds <= 253402300799 && nanos >= 0 && nanos < 1000000000,
           "a timestamp out of google.protobuf.Timestamp's range");
    return;
  }
  std::vector<const pb::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) CheckTimestamps(r->GetRepeatedMessage(m, f, i));
    } else {
      CheckTimestamps(r->GetMessage(m, f));
    }
  }
}

// Serializes `m` and parses it back as the coordinator would.
void CheckWire(const pb::Message& m, const std::string& what) {
  std::unique_ptr<pb::Message> back(m.New());
  Expect(back->ParseFromString(m.SerializeAsString()), what + " does not parse on the coordinator");
  Expect(pb::util::MessageDifferencer::Equals(m, *back), what + " changes on the wire");
  CheckTimestamps(m);
}

void CheckPayload(const pb::Any& any) {
  const std::string type = any.type_url().substr(any.type_url().rfind('/') + 1);
  const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  Expect(d != nullptr, "a payload of unknown type " + type);
  std::unique_ptr<pb::Message> payload(
      pb::MessageFactory::generated_factory()->GetPrototype(d)->New());
  if (!payload->ParseFromString(any.value())) Fail("the payload (" + type + ") does not unpack");
  CheckWire(*payload, "the payload (" + type + ")");
  // A *_json field is JSON text the agent read or wrote, which never holds a
  // raw NUL byte.
  std::vector<const pb::FieldDescriptor*> fields;
  payload->GetReflection()->ListFields(*payload, &fields);
  for (const pb::FieldDescriptor* f : fields) {
    if (f->type() != pb::FieldDescriptor::TYPE_STRING || f->is_repeated() ||
        !absl::EndsWith(f->name(), "_json")) {
      continue;
    }
    if (payload->GetReflection()->GetString(*payload, f).find('\0') == std::string::npos) continue;
    Fail("the payload's " + f->name() + " holds a NUL byte");
  }
}

void CheckOutcome(const sluice::agent::TaskOutcome& out) {
  if (out.is_complete()) {
    CheckWire(out.complete, "CompleteTaskRequest");
    for (const auto& d : out.complete.discovered()) {
      Expect(!d.kind().empty(), "discovered ids without a kind");
      std::set<int64_t> seen;
      for (int64_t id : d.ids()) Expect(id > 0 && seen.insert(id).second, "a bad discovered id");
    }
    if (out.complete.has_payload()) CheckPayload(out.complete.payload());
  } else {
    CheckWire(out.fail, "FailTaskRequest");
    const sluice::Duration wait = sluice::FromProtoDuration(out.fail.retry_after());
    Expect(wait >= sluice::Duration::zero() && wait <= sluice::kMaxRetryAfter,
           "a retry_after out of range");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pb::SetLogHandler(nullptr);  // invalid UTF-8 is checked, not logged
  Handlers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  g_input = &input;
  const size_t newline = input.find('\n');
  const absl::string_view first = absl::string_view(input).substr(0, newline);
  // The task comes from the coordinator over the wire: valid UTF-8 text.
  if (!sluice::CheckText("task", first, 1, 1000).ok()) return 0;
  const TaskLine line = ParseTaskLine(first);
  const sluice::agent::BoundHandler* bound = Handlers().Find(line.kind);
  if (bound == nullptr) return 0;

  sluice::v1::Task task;
  task.set_task_id(1);
  task.set_kind(line.kind);
  task.set_entity_id(line.entity_id);
  task.set_fencing_token(1);
  SetContext(line, &task);

  std::vector<HttpResponse> answers;
  if (newline != std::string::npos) {
    for (absl::string_view part :
         absl::StrSplit(absl::string_view(input).substr(newline + 1), "\n%%\n")) {
      answers.push_back(ParseAnswer(part));
    }
  }
  const sluice::TimePoint now{std::chrono::seconds(1796515700)};  // 2026-12-06T00:08:20Z
  const sluice::agent::Handler& handler = *bound->handler;
  sluice::agent::TaskOutcome out;
  if (handler.multi_request()) {
    FakeFetcher fetcher(answers);
    absl::StatusOr<sluice::agent::HandlerResult> run = handler.Run(task, fetcher);
    out = sluice::agent::DecideRunOutcome(handler, task, "fuzz-agent", run, fetcher.failure,
                                          fetcher.latest_expires, now);
  } else {
    Expect(!handler.BuildRequest(task).url.empty(), "a request without a URL");
    HttpResponse response = answers.empty() ? HttpResponse{200, {}, ""} : answers.front();
    out = sluice::agent::DecideOutcome(handler, task, "fuzz-agent", response, now);
  }
  CheckOutcome(out);
  g_input = nullptr;
  return 0;
}
