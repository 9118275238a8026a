/*
 * jobwrapper's GPU status item, hand-written as a module-federation container like
 * @jobwrapper/lifecycle, so that no build step is needed: JupyterLab calls
 * init(shareScope) and get("./extension").
 *
 * A status bar item needs two of JupyterLab's own modules, @jupyterlab/statusbar
 * (the IStatusBar token) and @lumino/widgets (Widget); they come from the share scope
 * that JupyterLab hands to init(), as webpack's own containers get them. Without
 * them (another JupyterLab, or an interface without a status bar) nothing is shown.
 *
 * The item asks the server's /jobwrapper/gpus every poll_seconds (5) while the page
 * is visible and shows "GPU0 37% 3.1/16.0 GB" per assigned GPU; it stays hidden when
 * the server says there is nothing to show (no GPU, no NVML), and then stops asking.
 */
(function () {
  "use strict";
  var NAME = "@jobwrapper/gpus";
  var ITEM_ID = "@jobwrapper/gpus:status";
  var shareScope = null;

  function newer(a, b) {
    var x = a.split(/[.+-]/), y = b.split(/[.+-]/);
    for (var i = 0; i < Math.max(x.length, y.length); i++) {
      var p = parseInt(x[i] || "0", 10), q = parseInt(y[i] || "0", 10);
      if (isNaN(p) || isNaN(q) || p === q) { continue; }
      return p > q;
    }
    return false;
  }

  // A module JupyterLab shares (its newest version in the scope).
  function shared(name) {
    var versions = shareScope && shareScope[name];
    var best = null;
    Object.keys(versions || {}).forEach(function (v) {
      if (best === null || newer(v, best)) { best = v; }
    });
    if (best === null) {
      return Promise.reject(new Error("JupyterLab shares no " + name));
    }
    var entry = versions[best];
    entry.loaded = 1;
    return Promise.resolve(entry.get()).then(function (factory) { return factory(); });
  }

  function gb(mb) {
    return (mb / 1024).toFixed(1);
  }

  function label(device) {
    var parts = ["GPU" + device.index];
    if (device.utilization_percent !== null) { parts.push(device.utilization_percent + "%"); }
    if (device.memory_total_mb) {
      parts.push(gb(device.memory_used_mb) + "/" + gb(device.memory_total_mb) + " GB");
    }
    if (device.error) { parts.push("(" + device.error + ")"); }
    return parts.join(" ");
  }

  function tooltip(device) {
    var text = "cuda:" + device.index + " " + device.name + " (" + device.uuid + ")";
    if (device.utilization_percent !== null) {
      text += ": " + device.utilization_percent + "% busy";
    }
    if (device.memory_total_mb) {
      text += ", memory " + device.memory_used_mb + " of " + device.memory_total_mb + " MB";
    }
    return text;
  }

  function makePlugin(IStatusBar, Widget) {
    return {
      id: ITEM_ID,
      description: "The job's GPUs: utilisation and memory, from NVML.",
      autoStart: true,
      optional: [IStatusBar],
      activate: function (app, statusBar) {
        if (!statusBar) {
          return;
        }
        var settings = app.serviceManager.serverSettings;
        var headers = {};
        if (settings.token) {
          headers.Authorization = "token " + settings.token;
        }
        var item = new Widget();
        item.addClass("jp-StatusBar-TextItem");
        item.addClass("jobwrapper-GpuStatus");
        item.node.setAttribute("data-jobwrapper", "gpus");
        var visible = false;
        item.hide();
        statusBar.registerStatusItem(ITEM_ID, {
          item: item, align: "left", rank: 100,
          isActive: function () { return visible; }
        });

        function show(status) {
          var devices = (status && status.available && status.devices) || [];
          visible = devices.length > 0;
          if (!visible) {
            item.hide();
            return;
          }
          item.node.textContent = devices.map(label).join(" | ");
          item.node.title = devices.map(tooltip).join("\n");
          item.show();
        }

        function poll() {
          var wait = 5;
          if (document.hidden) {
            window.setTimeout(poll, wait * 1000);
            return;
          }
          fetch(settings.baseUrl + "jobwrapper/gpus", {
            credentials: "same-origin", headers: headers
          }).then(function (response) {
            if (!response.ok) { throw new Error("HTTP " + response.status); }
            return response.json();
          }).then(function (status) {
            show(status);
            if (!status.available) {
              return;  // no GPU, or no NVML: that does not change while the job runs
            }
            wait = status.poll_seconds || wait;
            window.setTimeout(poll, wait * 1000);
          }).catch(function (error) {
            console.warn("jobwrapper: GPU status:", error);
            window.setTimeout(poll, 4 * wait * 1000);
          });
        }
        poll();
      }
    };
  }

  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = {
    init: function (scope) {
      shareScope = scope;
      return Promise.resolve();
    },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error("jobwrapper: no module " + module));
      }
      return Promise.all([shared("@jupyterlab/statusbar"), shared("@lumino/widgets")])
        .then(function (modules) {
          return [makePlugin(modules[0].IStatusBar, modules[1].Widget)];
        }, function (error) {
          console.warn("jobwrapper: no GPU status item:", error);
          return [];
        }).then(function (plugins) {
          return function () { return { __esModule: true, default: plugins }; };
        });
    }
  };
})();
