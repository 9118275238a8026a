/*
 * jobwrapper's JupyterLab plugin, hand-written as a module-federation container so
 * that no build step is needed: JupyterLab loads this file, calls init() and
 * get("./extension"). It uses only objects JupyterLab passes in (the application,
 * its service manager and commands), so it needs no shared modules.
 *
 * It turns jobwrapper's lifecycle events (runtime limit near, idle end near, more
 * time granted, job ending) into notifications that stay until dismissed; a
 * runtime-limit warning has a button "1 more hour" (command jobwrapper:more-time,
 * which asks the server's /jobwrapper/runtime; the hub decides).
 */
(function () {
  "use strict";
  var SCHEMA_ID = "https://jobwrapper.invalid/events/lifecycle";

  var MORE_TIME = "jobwrapper:more-time";

  function activate(app) {
    var shown = {};
    var services = app.serviceManager;
    var settings = services.serverSettings;
    var headers = { "Content-Type": "application/json" };
    if (settings.token) {
      headers.Authorization = "token " + settings.token;
    }
    var xsrf = document.cookie.match("(?:^|; )_xsrf=([^;]*)");
    if (xsrf) {
      headers["X-XSRFToken"] = decodeURIComponent(xsrf[1]);
    }

    function notify(type, message) {
      return app.commands.execute("apputils:notify", {
        message: message, type: type, options: { autoClose: false }
      });
    }

    app.commands.addCommand(MORE_TIME, {
      label: "Ask for 1 more hour",
      execute: function () {
        var url = settings.baseUrl + "jobwrapper/runtime";
        return fetch(url, { credentials: "same-origin", headers: headers })
          .then(function (response) { return response.json(); })
          .then(function (status) {
            if (!status.can_ask) {
              throw new Error("this job has no runtime limit to change");
            }
            return fetch(url, {
              method: "POST", credentials: "same-origin", headers: headers,
              body: JSON.stringify({ runtime_hours: status.runtime_hours + 1 })
            });
          })
          .then(function (response) {
            if (!response.ok) {
              return response.json().then(function (body) {
                throw new Error(body.message || ("HTTP " + response.status));
              });
            }
          })
          .catch(function (error) {
            return notify("error", String(error.message || error));
          });
      }
    });

    function show(event) {
      var key = event.kind + ":" + event.message;
      if (shown[key]) {
        return;
      }
      shown[key] = true;
      // The notification plugin registers apputils:notify during startup: wait for it.
      app.restored.then(function () {
        var options = { autoClose: false };
        if (event.action === "more-time") {
          options.actions = [{ label: "1 more hour", commandId: MORE_TIME }];
        }
        return app.commands.execute("apputils:notify", {
          message: event.message,
          type: event.kind === "ending" ? "error" : (event.kind === "info" ? "info" : "warning"),
          options: options
        });
      }).catch(function (error) {
        delete shown[key];
        console.warn("jobwrapper: cannot show notification", error);
      });
    }

    if (services.events && services.events.stream) {
      services.events.stream.connect(function (_, event) {
        if (event && event.schema_id === SCHEMA_ID) {
          show(event);
        }
      });
    }

    // Warnings given before this page was opened.
    fetch(settings.baseUrl + "jobwrapper/lifecycle", {
      credentials: "same-origin",
      headers: headers
    }).then(function (response) {
      return response.ok ? response.json() : { announcements: [] };
    }).then(function (status) {
      var all = status.announcements || [];
      var last = all.length ? all[all.length - 1] : null;
      if (last) {
        show(last);
      }
    }).catch(function () {});
  }

  var plugin = {
    id: "@jobwrapper/lifecycle:notifications",
    description: "Runtime-limit and shutdown warnings from jobwrapper.",
    autoStart: true,
    activate: activate
  };

  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB["@jobwrapper/lifecycle"] = {
    init: function () {
      return Promise.resolve();
    },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error("jobwrapper: no module " + module));
      }
      return Promise.resolve(function () {
        return { __esModule: true, default: [plugin] };
      });
    }
  };
})();
