// greenroom console: one WebSocket brings state when it changes; controls call the admin API.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var view = { account: "", region: "", service: localStorage.getItem("greenroom.service") || "kinesisvideo" };
  var socket = null;
  var hls = null;
  var shown = { resources: null, extras: {} };  // the last resources and extras of this view
  var thumbnails = {};                           // stream name -> GetImages answer
  var opened = {};                               // keys of unfolded <details>
  var described = {};                            // key -> {operation, description} from console/describe
  var clockOffset = 0, clockFrozen = 0, clockMode = "real";

  function el(tag, content, className) {
    var node = document.createElement(tag);
    if (content != null) node.textContent = String(content);
    if (className) node.className = className;
    return node;
  }

  function button(label, className, onclick) {
    var node = el("button", label, className);
    node.type = "button";
    node.onclick = onclick;
    return node;
  }

  function iso(seconds) { return seconds == null ? "" : new Date(seconds * 1000).toISOString(); }

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
      if (news.faults) showFaults(news.faults);
      if (news.view && news.view.service === view.service) {
        if (news.resources) shown.resources = news.resources;
        if (news.extras) shown.extras = news.extras;
        if (shown.resources) showResources();
      }
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
      var count = Object.values(scope.kinds).reduce(function (a, b) { return a + b; }, 0);
      var option = el("option", scope.account + " · " + scope.region + " (" + count + ")");
      option.value = scope.account + "/" + scope.region;
      select.appendChild(option);
    });
    if (!inventory.length) { select.appendChild(el("option", "nothing stored yet")); return; }
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
    shown = { resources: null, extras: {} };
    sendView();
  }

  function label(record) {
    var keys = ["StreamName", "ChannelName", "name", "Name", "displayName", "Description", "description", "operation", "id", "Id", "participantId", "sessionId", "arn", "Arn"];
    for (var i = 0; i < keys.length; i++) if (typeof record[keys[i]] === "string" && record[keys[i]]) return record[keys[i]];
    return "(unnamed)";
  }

  function state(record) {
    var keys = ["Status", "status", "state", "State"];
    for (var i = 0; i < keys.length; i++) if (record[keys[i]] != null) return record[keys[i]];
    return "";
  }

  // One resource: its name and state, its whole stored record when unfolded.
  function resourceItem(kind, record) {
    var item = el("li", null, "resource");
    item.dataset.name = label(record);
    item.dataset.state = state(record);
    var details = el("details");
    var key = kind + "/" + label(record);
    var summary = el("summary");
    summary.appendChild(el("span", label(record) + " "));
    summary.appendChild(el("span", state(record), "state"));
    details.appendChild(summary);
    var source = el("p", null, "source");
    var text = el("pre");
    details.appendChild(source);
    details.appendChild(text);
    function fill() {
      var known = described[key];
      source.textContent = known && known.operation ? "as " + known.operation + " answers it" : "the stored record";
      text.textContent = JSON.stringify(known && known.operation ? known.description : record, null, 2);
    }
    // Unfolded: the description as the service's Describe/Get answers it (asked again on each redraw).
    function ask() {
      admin("POST", "console/describe", { account: view.account, region: view.region, kind: kind, record: record })
        .then(function (answer) { described[key] = answer; fill(); })
        .catch(function () { described[key] = {}; fill(); });
    }
    fill();
    details.open = !!opened[key];
    if (details.open) ask();
    details.ontoggle = function () { opened[key] = details.open; if (details.open) ask(); };
    item.appendChild(details);
    return item;
  }

  function showResources() {
    var box = $("resources");
    // Keep what the user is typing and where the focus is across a redraw.
    var kept = {};
    box.querySelectorAll("input[data-keep]").forEach(function (input) {
      if (input.dataset.edited) kept[input.dataset.keep] = input.value;  // else it follows the stream
    });
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.keep : null;
    box.textContent = "";
    var byKind = shown.resources, extras = shown.extras || {};
    if (extras.error) box.appendChild(el("p", extras.error, "error"));
    if (view.service === "nimble") box.appendChild(nimbleTree(byKind, extras));
    var kinds = Object.keys(byKind);
    if (!kinds.length) box.appendChild(el("p", "No " + view.service + " resources in " + view.account + " " + view.region + "."));
    kinds.forEach(function (kind) {
      var section = el("section");
      section.dataset.kind = kind;
      section.appendChild(el("h2", kind.split(":")[1] + " (" + byKind[kind].length + ")"));
      var list = el("ul");
      byKind[kind].forEach(function (record) {
        var item = resourceItem(kind, record);
        var decorate = DECORATE[kind];
        if (decorate) decorate(item, record, extras);
        list.appendChild(item);
      });
      section.appendChild(list);
      box.appendChild(section);
    });
    box.querySelectorAll("input[data-keep]").forEach(function (input) {
      if (kept[input.dataset.keep] != null) { input.value = kept[input.dataset.keep]; input.dataset.edited = "1"; }
      if (input.dataset.keep === focused) input.focus();
    });
    // Tiles of stages no longer shown (another view, a deleted stage) end their subscriptions.
    Object.keys(tiles).forEach(function (id) { if (!box.contains(tiles[id].box)) closeTile(id); });
  }

  // ---------------------------------------------------------------- Kinesis Video
  function showStream(item, record, extras) {
    var name = record.StreamName;
    var media = (extras.media || {})[name] || { fragments: 0, timeline: [] };
    var line = el("p", media.fragments + " fragments" + (media.last ? ", last at " + iso(media.last / 1000) : ""), "media");
    line.dataset.fragments = media.fragments;
    item.appendChild(line);
    if (media.timeline.length) item.appendChild(timeline(media.timeline));
    item.appendChild(button("Play LIVE", "play", function () { play(name, null); }));
    var range = el("form", null, "range");
    var first = media.first != null ? media.first / 1000 : null, last = media.last != null ? media.last / 1000 + 1 : null;
    [["from", first], ["to", last]].forEach(function (pair) {
      var field = el("label", pair[0] + " ");
      var input = el("input");
      input.name = pair[0]; input.size = 24; input.value = iso(pair[1]);
      input.dataset.keep = name + "/" + pair[0];
      input.oninput = function () { input.dataset.edited = "1"; };
      field.appendChild(input);
      range.appendChild(field);
    });
    function span() {
      var start = Date.parse(range.elements.from.value) / 1000, end = Date.parse(range.elements.to.value) / 1000;
      if (!(start < end)) { say("the range needs two times, the first before the second"); return null; }
      return { start: start, end: end };
    }
    range.appendChild(button("Play range", "play-range", function () { var s = span(); if (s) play(name, s); }));
    range.appendChild(button("Thumbnails", "thumbs", function () { var s = span(); if (s) images(name, s); }));
    item.appendChild(range);
    var strip = el("div", null, "thumbnails");
    (thumbnails[name] || []).forEach(function (image) {
      if (!image.ImageContent) { strip.appendChild(el("span", image.Error || "no image", "error")); return; }
      var img = el("img");
      img.src = "data:image/jpeg;base64," + image.ImageContent;
      img.alt = name + " at " + iso(image.TimeStamp);
      img.title = iso(image.TimeStamp);
      strip.appendChild(img);
    });
    item.appendChild(strip);
  }

  // The newest fragments on a time axis: one bar per fragment, gaps show.
  function timeline(fragments) {
    var ns = "http://www.w3.org/2000/svg";
    var start = fragments[0][0], end = fragments[fragments.length - 1][0] + fragments[fragments.length - 1][1];
    var width = Math.max(end - start, 1);
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "timeline");
    svg.setAttribute("viewBox", "0 0 1000 20");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", fragments.length + " newest fragments from " + iso(start / 1000) + " to " + iso(end / 1000));
    fragments.forEach(function (fragment) {
      var bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", (fragment[0] - start) / width * 1000);
      bar.setAttribute("width", Math.max(fragment[1] / width * 1000 - 1, 1));
      bar.setAttribute("y", 2);
      bar.setAttribute("height", 16);
      svg.appendChild(bar);
    });
    return svg;
  }

  function showChannel(item, record, extras) {
    var peers = (extras.peers || {})[record.ChannelARN];
    var text = !peers ? "nobody connected" :
      (peers.master ? "master connected" : "no master") +
      (peers.viewers.length ? "; viewers: " + peers.viewers.join(", ") : "; no viewers") +
      (peers.storage ? "; storage session" : "") +
      (peers.storageViewers.length ? " with viewers " + peers.storageViewers.join(", ") : "");
    var line = el("p", text, "peers");
    line.dataset.viewers = peers ? peers.viewers.length : 0;
    item.appendChild(line);
  }

  function images(stream, span) {
    say("asking GetImages…");
    admin("POST", "console/kvs-images", { account: view.account, region: view.region, stream: stream,
      start: span.start, end: span.end, count: 8 })
      .then(function (answer) { thumbnails[stream] = answer.images; say(answer.images.length + " images"); showResources(); })
      .catch(function (error) { say("GetImages: " + error.message); });
  }

  function playUrl(title, url) {
    $("player-box").hidden = false;
    $("player-title").textContent = title;
    attach(url, "recording");
  }

  function attach(url, mode) {
    var video = $("player");
    if (hls) hls.destroy();
    if (typeof Hls === "undefined" || !Hls.isSupported()) {
      $("player-status").textContent = "hls.js is not installed (python -m greenroom.vendored fetches it): " + url;
      return;
    }
    hls = new Hls();
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (data.fatal) $("player-status").textContent = "player error: " + data.details;
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.addEventListener("playing", function () { $("player-status").textContent = "playing " + mode; }, { once: true });
    video.play().catch(function () {});
  }

  function play(stream, span) {
    $("player-box").hidden = false;
    $("player-title").textContent = stream + (span ? " " + iso(span.start) + " – " + iso(span.end) : " (LIVE)");
    $("player-status").textContent = "asking for an HLS session…";
    var ask = { account: view.account, region: view.region, stream: stream };
    if (span) { ask.start = span.start; ask.end = span.end; }
    admin("POST", "console/kvs-hls", ask)
      .then(function (answer) { attach(answer.url, answer.mode); })
      .catch(function (error) { $("player-status").textContent = "no session: " + error.message; });
  }

  // ---------------------------------------------------------------- IVS Real-Time
  // WebRTC in the page: the test participant publishes a generated picture over WHIP and the
  // stage's publishers show as live tiles (WHIP subscribe). Without it, the admin fake camera.
  var webrtc = typeof RTCPeerConnection !== "undefined";
  var publishers = {};   // participant id -> {peer, whip: {url, token, location}} of the page's own publishers
  var tiles = {};        // participant id -> {box, video, peer, whip, stage} of live tiles
  var viewers = {};      // stage ARN -> a promise of the page's subscribe token for that stage

  function showStage(item, record, extras) {
    item.appendChild(button("Join as a test participant", "join", function () {
      (webrtc ? publishPattern(record.arn) :
        admin("POST", "console/ivs-join", { account: view.account, region: view.region, stageArn: record.arn }))
        .then(function (joined) { say("joined as " + joined.participantId); })
        .catch(function (error) { say("join: " + error.message); });
    }));
    var sessions = (extras.stages || {})[record.arn] || [];
    var live = {};
    var list = el("ul", null, "sessions");
    sessions.forEach(function (session) {
      var entry = el("li", "session " + session.sessionId + (session.endTime ? " (ended " + session.endTime + ")" : " (live)"));
      var people = el("ul");
      session.participants.forEach(function (participant) {
        people.appendChild(participantItem(participant));
        if (!session.endTime && participant.state === "CONNECTED" && participant.published) live[participant.participantId] = true;
      });
      entry.appendChild(people);
      list.appendChild(entry);
    });
    if (webrtc) item.appendChild(stageTiles(record.arn, live));
    item.appendChild(list);
  }

  // -- WHIP (draft-ietf-wish-whip as IVS speaks it): offer in, 201 answer and Location out.
  function whipOffer(peer, url, token) {
    return peer.createOffer().then(function (offer) { return peer.setLocalDescription(offer); })
      .then(function () { return gathered(peer); })
      .then(function () {
        return fetch(url, { method: "POST", body: peer.localDescription.sdp,
          headers: { "Authorization": "Bearer " + token, "Content-Type": "application/sdp" } });
      })
      .then(function (response) {
        return response.text().then(function (text) {
          if (response.status !== 201) {
            var message = text;
            try { message = JSON.parse(text).message || text; } catch (e) { /* not JSON */ }
            throw new Error(message || "WHIP " + response.status);
          }
          return peer.setRemoteDescription({ type: "answer", sdp: text })
            .then(function () { return new URL(response.headers.get("Location"), url).href; });
        });
      });
  }

  // The offer goes whole (no trickle): wait for the candidates, at most two seconds.
  function gathered(peer) {
    return new Promise(function (resolve) {
      if (peer.iceGatheringState === "complete") return resolve();
      var timer = setTimeout(resolve, 2000);
      peer.addEventListener("icegatheringstatechange", function () {
        if (peer.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  function whipEnd(whip) {
    if (!whip.location) return;
    fetch(whip.location, { method: "DELETE", headers: { "Authorization": "Bearer " + whip.token } }).catch(function () {});
  }

  function consoleToken(stageArn, use) {
    return admin("POST", "console/ivs-token", { account: view.account, region: view.region, stageArn: stageArn, use: use });
  }

  // The test participant: a canvas with a moving pattern and its participant id, published.
  function publishPattern(stageArn) {
    return consoleToken(stageArn, "publish").then(function (token) {
      var canvas = document.createElement("canvas");
      canvas.width = 320; canvas.height = 240;
      var context = canvas.getContext("2d"), frame = 0;
      var timer = setInterval(function () {
        frame++;
        context.fillStyle = "#2a7"; context.fillRect(0, 0, 320, 240);
        context.fillStyle = "#fff"; context.fillRect((frame * 4) % 320, 0, 40, 240);
        context.fillStyle = "#123"; context.font = "bold 20px sans-serif";
        context.fillText(token.participantId, 10, 130);
        context.fillText(new Date().toISOString().slice(11, 22), 10, 160);
      }, 1000 / 15);
      var peer = new RTCPeerConnection();
      canvas.captureStream(15).getTracks().forEach(function (track) { peer.addTransceiver(track, { direction: "sendonly" }); });
      var whip = { url: token.whipUrl + "/publish/" + token.participantId, token: token.token };
      publishers[token.participantId] = { peer: peer, whip: whip, timer: timer };
      return whipOffer(peer, whip.url, token.token).then(function (location) {
        whip.location = location;
        return { participantId: token.participantId };
      }, function (error) { stopPublishing(token.participantId); throw error; });
    });
  }

  function stopPublishing(participantId) {
    var own = publishers[participantId];
    if (!own) return;
    delete publishers[participantId];
    clearInterval(own.timer);
    whipEnd(own.whip);
    own.peer.close();
  }

  // Live tiles: one per publishing participant of the stage's live session, kept across redraws
  // (the same <video> is moved into the new view), closed when its participant stops publishing.
  function stageTiles(stageArn, live) {
    var box = el("div", null, "tiles");
    box.setAttribute("aria-label", "live tiles");
    Object.keys(tiles).forEach(function (id) {
      if (tiles[id].stage === stageArn && !live[id]) closeTile(id);
    });
    Object.keys(live).forEach(function (id) {
      if (!tiles[id]) openTile(stageArn, id);
      box.appendChild(tiles[id].box);
    });
    return box;
  }

  function openTile(stageArn, participantId) {
    var box = el("figure", null, "tile");
    box.dataset.participantId = participantId;
    var video = el("video");
    video.muted = true; video.autoplay = true; video.playsInline = true; video.width = 240;
    var caption = el("figcaption", participantId + ": subscribing…");
    box.appendChild(video);
    box.appendChild(caption);
    var tile = tiles[participantId] = { box: box, video: video, stage: stageArn, peer: null, whip: null };
    if (!viewers[stageArn]) viewers[stageArn] = consoleToken(stageArn, "subscribe");
    viewers[stageArn].then(function (token) {
      if (tiles[participantId] !== tile) return;
      var peer = tile.peer = new RTCPeerConnection();
      peer.addTransceiver("video", { direction: "recvonly" });
      peer.addTransceiver("audio", { direction: "recvonly" });
      var stream = new MediaStream();
      peer.ontrack = function (event) { stream.addTrack(event.track); };
      video.srcObject = stream;
      tile.whip = { url: token.whipUrl + "/subscribe/" + participantId, token: token.token };
      return whipOffer(peer, tile.whip.url, token.token).then(function (location) {
        tile.whip.location = location;
        caption.textContent = participantId;
        if (tiles[participantId] !== tile) whipEnd(tile.whip);
      });
    }).catch(function (error) {
      caption.textContent = participantId + ": " + error.message;
      box.dataset.error = error.message;
      delete viewers[stageArn];  // a token refused (revoked, expired): ask for another next time
    });
  }

  function closeTile(participantId) {
    var tile = tiles[participantId];
    delete tiles[participantId];
    if (tile.whip) whipEnd(tile.whip);
    if (tile.peer) tile.peer.close();
  }

  function participantItem(participant) {
    var person = el("li", participant.participantId + " " + (participant.userId || "") + " ", "participant");
    person.dataset.participantId = participant.participantId;
    person.dataset.state = participant.state;
    person.appendChild(el("span", participant.state + (participant.published ? ", publishing" : ""), "state"));
    // Oldest first: the timeline reads down, and the subscriptions are what the events leave.
    var history = (participant.events || []).slice().sort(function (a, b) {
      return Date.parse(a.eventTime) - Date.parse(b.eventTime);
    });
    var subscribed = {};
    history.forEach(function (event) {
      if (event.name === "SUBSCRIBE_STARTED") subscribed[event.remoteParticipantId] = true;
      if (event.name === "SUBSCRIBE_STOPPED") delete subscribed[event.remoteParticipantId];
    });
    var facts = [];
    var to = Object.keys(subscribed);
    facts.push(to.length ? "subscribed to " + to.join(", ") : "no subscriptions");
    if (participant.replicationType && participant.replicationType !== "NONE")
      facts.push("replication " + participant.replicationType + " " + (participant.replicationState || "") +
        (participant.sourceStageArn ? " from " + participant.sourceStageArn : ""));
    if (participant.recordingState && participant.recordingState !== "DISABLED")
      facts.push("recording " + participant.recordingState +
        (participant.recordingS3BucketName ? " to s3://" + participant.recordingS3BucketName + "/" + (participant.recordingS3Prefix || "") : ""));
    person.appendChild(el("div", facts.join(" · "), "facts"));
    var recorded = participant.recordedObjects || [];
    if (recorded.length) {
      var files = el("details", null, "recording");
      files.appendChild(el("summary", recorded.length + " recorded objects"));
      var keys = el("ul");
      recorded.forEach(function (key) {
        var link = el("a", key);
        link.href = "/_greenroom/console/s3/" + encodeURIComponent(participant.recordingS3BucketName) + "/" +
          key.split("/").map(encodeURIComponent).join("/");
        var entry = el("li");
        entry.appendChild(link);
        if (/\.m3u8$/.test(key)) entry.appendChild(button("Play", "play-recording", function () { playUrl(key, link.href); }));
        keys.appendChild(entry);
      });
      files.appendChild(keys);
      person.appendChild(files);
    }
    if (publishers[participant.participantId]) {
      if (participant.state !== "CONNECTED") stopPublishing(participant.participantId);
      else person.appendChild(button("Leave", "leave", function () { stopPublishing(participant.participantId); }));
    }
    var events = el("ol", null, "events");
    events.setAttribute("aria-label", "events of " + participant.participantId);
    history.forEach(function (event) {
      var when = el("time", event.eventTime);
      when.dateTime = event.eventTime;
      var entry = el("li");
      entry.appendChild(when);
      entry.appendChild(document.createTextNode(" " + event.name + (event.remoteParticipantId ? " " + event.remoteParticipantId : "") +
        (event.destinationStageArn ? " → " + event.destinationStageArn : "") + (event.errorCode ? " " + event.errorCode : "")));
      events.appendChild(entry);
    });
    person.appendChild(events);
    return person;
  }

  // ---------------------------------------------------------------- GameLift Streams
  function showStreamGroup(item, record, extras) {
    var described = (extras.groups || {})[record.Id] || {};
    var locations = described.LocationStates || [];
    if (!locations.length) return;
    var table = el("table", null, "capacity");
    table.appendChild(el("caption", "capacity per location"));
    var columns = ["LocationName", "Status", "AlwaysOnCapacity", "OnDemandCapacity", "RequestedCapacity", "AllocatedCapacity", "IdleCapacity"];
    var head = el("tr");
    columns.forEach(function (column) { head.appendChild(el("th", column.replace("Capacity", " capacity").replace("LocationName", "location"))); });
    table.appendChild(head);
    locations.forEach(function (location) {
      var row = el("tr");
      row.dataset.location = location.LocationName;
      columns.forEach(function (column) { row.appendChild(el("td", location[column] == null ? "" : location[column])); });
      table.appendChild(row);
    });
    item.appendChild(table);
  }

  // "Open the stream": the page is the session's client. Its offer (video and sound to receive,
  // an input data channel) goes to CreateStreamSessionConnection through the console's server
  // side; mouse and keyboard on the video go over the data channel, drawn by the application.
  var stream = null;  // {peer, channel, arn} of the opened session

  function showSession(item, record) {
    if (webrtc && ["TERMINATING", "TERMINATED", "ERROR"].indexOf(record.Status) < 0)
      item.appendChild(button("Open the stream", "open-stream", function () { openStream(record); }));
    var history = el("ol", null, "history");
    history.setAttribute("aria-label", "status history");
    (record._StatusHistory || []).forEach(function (change) {
      history.appendChild(el("li", iso(change.At) + " " + change.Status + (change.StatusReason ? " (" + change.StatusReason + ")" : "")));
    });
    item.appendChild(history);
  }

  function openStream(record) {
    closeStream();
    var video = $("stream"), status = $("stream-status");
    $("stream-box").hidden = false;
    $("stream-title").textContent = record.Arn;
    status.textContent = "connecting…";
    var peer = new RTCPeerConnection();
    var channel = peer.createDataChannel("input");
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.addTransceiver("audio", { direction: "recvonly" });
    var media = new MediaStream();
    peer.ontrack = function (event) { media.addTrack(event.track); };
    video.srcObject = media;
    stream = { peer: peer, channel: channel, arn: record.Arn };
    peer.onconnectionstatechange = function () { status.textContent = peer.connectionState; };
    peer.createOffer().then(function (offer) { return peer.setLocalDescription(offer); })
      .then(function () { return gathered(peer); })
      .then(function () {
        return admin("POST", "console/gamelift-connect", { account: view.account, region: view.region,
          streamGroupId: record.StreamGroupId, sessionArn: record.Arn,
          signalRequest: JSON.stringify({ type: "offer", sdp: peer.localDescription.sdp }) });
      })
      .then(function (answer) { return peer.setRemoteDescription(JSON.parse(answer.signalResponse)); })
      .catch(function (error) {
        status.textContent = "cannot open the stream: " + error.message;
        if (stream && stream.peer === peer) closeStream();
      });
  }

  function closeStream() {
    if (!stream) return;
    stream.peer.close();
    stream = null;
    $("stream").srcObject = null;
  }

  // Input as DOM events by name, positions in the picture's pixels (see gameliftstreams.streaming).
  function sendInput(event) {
    if (!stream || stream.channel.readyState !== "open") return;
    var message = { type: event.type };
    if (event.type.indexOf("key") === 0) { message.key = event.key; message.code = event.code; event.preventDefault(); }
    else {
      var video = $("stream"), box = video.getBoundingClientRect();
      message.x = Math.round((event.clientX - box.left) * (video.videoWidth || box.width) / box.width);
      message.y = Math.round((event.clientY - box.top) * (video.videoHeight || box.height) / box.height);
      if (event.type !== "mousemove") message.button = event.button;
    }
    stream.channel.send(JSON.stringify(message));
  }

  ["mousedown", "mouseup", "mousemove", "keydown", "keyup"].forEach(function (name) {
    $("stream").addEventListener(name, sendInput);
  });
  $("stream-close").onclick = function () { closeStream(); $("stream-box").hidden = true; };

  // ---------------------------------------------------------------- Nimble Studio
  function nimbleTree(byKind, extras) {
    var tree = el("section", null, "tree");
    tree.setAttribute("aria-label", "studios, launch profiles and sessions");
    tree.appendChild(el("h2", "Studios → launch profiles → sessions"));
    var profiles = byKind["nimble:launch-profile"] || [], sessions = byKind["nimble:streaming-session"] || [];
    var studios = el("ul");
    (byKind["nimble:studio"] || []).forEach(function (studio) {
      var entry = el("li", studio.displayName || studio.studioName || studio.studioId);
      entry.appendChild(el("span", " " + state(studio), "state"));
      var inner = el("ul");
      profiles.filter(function (p) { return p.studioId === studio.studioId; }).forEach(function (profile) {
        var line = el("li", profile.name + " ");
        line.appendChild(el("span", state(profile), "state"));
        var running = el("ul");
        sessions.filter(function (s) { return s.launchProfileId === profile.launchProfileId; }).forEach(function (session) {
          var one = el("li", session.sessionId + " ");
          one.appendChild(el("span", state(session) + (session.statusCode ? " " + session.statusCode : ""), "state"));
          running.appendChild(one);
        });
        line.appendChild(running);
        inner.appendChild(line);
      });
      entry.appendChild(inner);
      studios.appendChild(entry);
    });
    tree.appendChild(studios);
    tree.appendChild(faultForm(extras.faultOperations || {}));
    return tree;
  }

  function faultForm(operations) {
    var form = el("form", null, "arm-fault");
    form.id = "arm-fault";
    form.appendChild(el("h3", "Arm a fault in " + view.account + " " + view.region));
    var operation = el("select"), code = el("select");
    operation.name = "operation"; code.name = "statusCode";
    operation.setAttribute("aria-label", "operation");
    code.setAttribute("aria-label", "status code");
    Object.keys(operations).forEach(function (name) { var o = el("option", name); o.value = name; operation.appendChild(o); });
    function codes() {
      code.textContent = "";
      (operations[operation.value] || []).forEach(function (name) { var o = el("option", name); o.value = name; code.appendChild(o); });
    }
    operation.onchange = codes;
    codes();
    var count = el("input");
    count.type = "number"; count.min = "1"; count.value = "1"; count.size = 3; count.name = "count";
    count.setAttribute("aria-label", "count");
    [operation, code, count].forEach(function (field) { form.appendChild(field); });
    var arm = el("button", "Arm");
    arm.type = "submit";
    form.appendChild(arm);
    form.onsubmit = function (event) {
      event.preventDefault();
      admin("POST", "nimble/faults", { operation: operation.value, statusCode: code.value, count: Number(count.value),
        account: view.account, region: view.region })
        .then(function () { say("armed " + operation.value + " " + code.value); })
        .catch(function (error) { say("arm: " + error.message); });
    };
    return form;
  }

  var DECORATE = {
    "kinesisvideo:stream": showStream,
    "kinesisvideo:channel": showChannel,
    "ivs-realtime:stage": showStage,
    "gameliftstreams:streamgroup": showStreamGroup,
    "gameliftstreams:streamsession": showSession
  };

  // ---------------------------------------------------------------- controls
  // A real clock ticks in the page (greenroom sends the clock only when it is changed).
  function showClock(clock) {
    clockMode = clock.mode;
    clockFrozen = clock.now;
    clockOffset = clock.now - Date.now() / 1000;
    $("clock-mode").textContent = clock.mode;
    tickClock();
  }

  function tickClock() {
    var now = clockMode === "real" ? Date.now() / 1000 + clockOffset : clockFrozen;
    $("clock-now").textContent = iso(now);
    $("clock-now").dataset.epoch = now;
  }

  function showFaults(faults) {
    var list = $("faults");
    list.textContent = "";
    if (!faults.length) list.appendChild(el("li", "none armed in this account and region"));
    faults.forEach(function (fault) {
      list.appendChild(el("li", fault.operation + " → " + fault.statusCode + " (" + fault.remaining + " left)"));
    });
  }

  function showRequests(entries) {
    var body = $("requests").tBodies[0];
    body.textContent = "";
    entries.slice().reverse().forEach(function (entry) {
      var row = el("tr");
      [new Date(entry.time * 1000).toLocaleTimeString(), entry.service, entry.operation, entry.status,
        entry.duration_ms, entry.error || ""].forEach(function (cell, index) {
        row.appendChild(el("td", cell, index === 5 ? "error" : ""));
      });
      body.appendChild(row);
    });
  }

  function clock(change) {
    admin("POST", "clock", change).then(showClock).catch(function (e) { say(e.message); });
  }

  function loadDelays() {
    admin("GET", "delays").then(function (delays) {
      var rows = $("delay-rows");
      rows.textContent = "";
      Object.keys(delays).forEach(function (name) {
        var row = el("tr");
        var input = el("input");
        input.type = "number"; input.step = "any"; input.min = "0"; input.size = 5;
        input.name = name; input.value = delays[name];
        input.setAttribute("aria-label", name);
        row.appendChild(el("td", name));
        var cell = el("td");
        cell.appendChild(input);
        row.appendChild(cell);
        rows.appendChild(row);
      });
    });
  }

  function setService(service) {
    view.service = service;
    localStorage.setItem("greenroom.service", service);
    document.querySelectorAll("#services button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.service === service));
    });
    shown = { resources: null, extras: {} };
    $("resources").textContent = "";
    sendView();
  }

  document.querySelectorAll("#services button").forEach(function (b) {
    b.onclick = function () { setService(b.dataset.service); };
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
    var when = event.target.when.value, epoch = Number(when);
    clock({ set: isNaN(epoch) ? Date.parse(when) / 1000 : epoch });
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
  $("disarm").onclick = function () {
    admin("DELETE", "nimble/faults?account=" + encodeURIComponent(view.account) + "&region=" + encodeURIComponent(view.region))
      .then(function () { say("faults disarmed"); }).catch(function (e) { say(e.message); });
  };

  setService(view.service);
  loadDelays();
  setInterval(function () { if (clockMode === "real") tickClock(); }, 1000);
  connect();
})();
