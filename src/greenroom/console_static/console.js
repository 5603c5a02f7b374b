// greenroom console: one WebSocket brings state when it changes; controls call the admin API.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var view = { account: "", region: "", service: localStorage.getItem("greenroom.service") || "kinesisvideo" };
  var socket = null;
  var hls = null;

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content == null ? "" : String(content);
    if (className) node.className = className;
    return node;
  }

  function admin(method, path, body) {
    var headers = body ? { "Content-Type": "application/json" } : {};
    var token = sessionStorage.getItem("greenroom.adminToken");
    if (token) headers.Authorization = "Bearer " + token;  // servers started with --admin-token
    return fetch("/_greenroom/" + path, {
      method: method, headers: headers,
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error(answer.message || response.status);
        return answer;
      });
    });
  }

  function say(message) { $("control-status").textContent = message; }

  // ---------------------------------------------------------------- live state
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/_greenroom/console/live");
    socket.onopen = function () { $("live-status").textContent = "live"; sendView(); };
    socket.onclose = function () {
      $("live-status").textContent = "disconnected, reconnecting…";
      setTimeout(connect, 2000);
    };
    socket.onmessage = function (event) {
      var news = JSON.parse(event.data);
      if (news.inventory) showInventory(news.inventory);
      if (news.clock) showClock(news.clock);
      if (news.requests) showRequests(news.requests);
      if (news.resources && news.view && news.view.service === view.service) showResources(news.resources);
    };
  }

  function sendView() {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(view));
  }

  function showInventory(inventory) {
    var select = $("scope");
    var chosen = view.account + "/" + view.region;
    select.textContent = "";
    inventory.forEach(function (scope) {
      var value = scope.account + "/" + scope.region;
      var count = Object.values(scope.kinds).reduce(function (a, b) { return a + b; }, 0);
      var option = text("option", scope.account + " · " + scope.region + " (" + count + ")");
      option.value = value;
      select.appendChild(option);
    });
    if (!inventory.length) { select.appendChild(text("option", "nothing stored yet")); return; }
    var values = inventory.map(function (s) { return s.account + "/" + s.region; });
    if (values.indexOf(chosen) < 0) {
      chosen = values[0];
      choose(chosen);
    }
    select.value = chosen;
  }

  function choose(value) {
    var parts = value.split("/");
    view.account = parts[0];
    view.region = parts[1];
    sendView();
  }

  function label(record) {
    var keys = ["StreamName", "ChannelName", "name", "Name", "Description", "description", "id", "Id", "participantId", "arn", "Arn"];
    for (var i = 0; i < keys.length; i++) if (typeof record[keys[i]] === "string" && record[keys[i]]) return record[keys[i]];
    return "(unnamed)";
  }

  function state(record) {
    var keys = ["Status", "status", "state", "State"];
    for (var i = 0; i < keys.length; i++) if (record[keys[i]] != null) return record[keys[i]];
    return "";
  }

  function showStage(item, sessions) {
    if (!sessions || !sessions.length) return;
    var list = document.createElement("ul");
    sessions.forEach(function (session) {
      var entry = text("li", "session " + session.sessionId + (session.endTime ? " (ended)" : " (live)"));
      var people = document.createElement("ul");
      session.participants.forEach(function (participant) {
        var person = text("li", participant.participantId + " " + (participant.userId || "") + " ");
        person.className = "participant";
        person.dataset.participantId = participant.participantId;
        person.dataset.state = participant.state;
        person.appendChild(text("span", participant.state + (participant.published ? ", publishing" : ""), "state"));
        var events = document.createElement("ol");
        events.className = "events";
        (participant.events || []).slice().reverse().forEach(function (event) {
          events.appendChild(text("li", event.eventTime + " " + event.name + (event.errorCode ? " " + event.errorCode : "")));
        });
        person.appendChild(events);
        people.appendChild(person);
      });
      entry.appendChild(people);
      list.appendChild(entry);
    });
    item.appendChild(list);
  }

  function showResources(byKind) {
    var stages = byKind.stages || {};
    delete byKind.stages;
    var box = $("resources");
    if (stages.error) box.dataset.error = stages.error;
    box.textContent = "";
    var kinds = Object.keys(byKind);
    if (!kinds.length) { box.appendChild(text("p", "No " + view.service + " resources in " + view.account + " " + view.region + ".")); return; }
    kinds.forEach(function (kind) {
      var section = document.createElement("section");
      section.dataset.kind = kind;
      section.appendChild(text("h2", kind.split(":")[1] + " (" + byKind[kind].length + ")"));
      var list = document.createElement("ul");
      byKind[kind].forEach(function (record) {
        var item = document.createElement("li");
        item.className = "resource";
        item.dataset.name = label(record);
        item.dataset.state = state(record);
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.appendChild(text("span", label(record) + " "));
        summary.appendChild(text("span", state(record), "state"));
        details.appendChild(summary);
        details.appendChild(text("pre", JSON.stringify(record, null, 2)));
        item.appendChild(details);
        if (kind === "ivs-realtime:stage") showStage(item, stages[record.arn]);
        if (kind === "kinesisvideo:stream") {
          var play = text("button", "Play LIVE");
          play.type = "button";
          play.className = "play";
          play.onclick = function () { playLive(label(record)); };
          item.appendChild(play);
        }
        list.appendChild(item);
      });
      section.appendChild(list);
      box.appendChild(section);
    });
  }

  function showClock(clock) {
    $("clock-mode").textContent = clock.mode;
    $("clock-now").textContent = new Date(clock.now * 1000).toISOString();
    $("clock-now").dataset.epoch = clock.now;
  }

  function showRequests(entries) {
    var body = $("requests").tBodies[0];
    body.textContent = "";
    entries.slice().reverse().forEach(function (entry) {
      var row = document.createElement("tr");
      [new Date(entry.time * 1000).toLocaleTimeString(), entry.service, entry.operation, entry.status,
        entry.duration_ms, entry.error || ""].forEach(function (cell, index) {
        row.appendChild(text("td", cell, index === 5 ? "error" : ""));
      });
      body.appendChild(row);
    });
  }

  // ---------------------------------------------------------------- player
  function playLive(stream) {
    $("player-box").hidden = false;
    $("player-title").textContent = stream;
    $("player-status").textContent = "asking for a LIVE HLS session…";
    admin("POST", "console/kvs-hls", { account: view.account, region: view.region, stream: stream })
      .then(function (answer) {
        var video = $("player");
        if (hls) hls.destroy();
        if (typeof Hls === "undefined" || !Hls.isSupported()) {
          $("player-status").textContent = "hls.js is not installed (python -m greenroom.vendored fetches it): " + answer.url;
          return;
        }
        hls = new Hls();
        hls.on(Hls.Events.ERROR, function (event, data) {
          if (data.fatal) $("player-status").textContent = "player error: " + data.details;
        });
        hls.loadSource(answer.url);
        hls.attachMedia(video);
        video.addEventListener("playing", function () { $("player-status").textContent = "playing"; }, { once: true });
        video.play().catch(function () {});
      })
      .catch(function (error) { $("player-status").textContent = "no session: " + error.message; });
  }

  // ---------------------------------------------------------------- controls
  function clock(change) { admin("POST", "clock", change).then(showClock).catch(function (e) { say(e.message); }); }

  function loadDelays() {
    admin("GET", "delays").then(function (delays) {
      var rows = $("delay-rows");
      rows.textContent = "";
      Object.keys(delays).forEach(function (name) {
        var row = document.createElement("tr");
        var input = document.createElement("input");
        input.type = "number"; input.step = "any"; input.min = "0"; input.size = 5;
        input.name = name; input.value = delays[name];
        input.setAttribute("aria-label", name);
        row.appendChild(text("td", name));
        var cell = document.createElement("td");
        cell.appendChild(input);
        row.appendChild(cell);
        rows.appendChild(row);
      });
    });
  }

  function loadFaults() {
    admin("GET", "nimble/faults").then(function (faults) {
      $("faults").textContent = JSON.stringify(faults, null, 1);
    }).catch(function (e) { $("faults").textContent = e.message; });
  }

  function setService(service) {
    view.service = service;
    localStorage.setItem("greenroom.service", service);
    document.querySelectorAll("#services button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.service === service));
    });
    $("resources").textContent = "";
    sendView();
  }

  document.querySelectorAll("#services button").forEach(function (button) {
    button.onclick = function () { setService(button.dataset.service); };
  });
  $("scope").onchange = function () { choose($("scope").value); };
  $("clock-freeze").onclick = function () { clock({ mode: "manual" }); };
  $("clock-real").onclick = function () { clock({ mode: "real" }); };
  $("clock-advance").onsubmit = function (event) {
    event.preventDefault();
    clock({ advance: Number(event.target.seconds.value) });
  };
  $("clock-set").onsubmit = function (event) {
    event.preventDefault();
    clock({ set: Number(event.target.epoch.value) });
  };
  $("delays").onsubmit = function (event) {
    event.preventDefault();
    var changes = {};
    event.target.querySelectorAll("input").forEach(function (input) { changes[input.name] = Number(input.value); });
    admin("POST", "delays", changes).then(function () { say("delays saved"); loadDelays(); })
      .catch(function (e) { say(e.message); });
  };
  $("admin-token").value = sessionStorage.getItem("greenroom.adminToken") || "";
  $("admin-token").onchange = function () { sessionStorage.setItem("greenroom.adminToken", $("admin-token").value); };
  $("reset").onclick = function () {
    if (!confirm("Forget every resource?")) return;
    admin("POST", "reset").then(function () { say("reset"); loadDelays(); }).catch(function (e) { say(e.message); });
  };

  setService(view.service);
  loadDelays();
  loadFaults();
  connect();
})();
