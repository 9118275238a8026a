/*
 * jobwrapper's JupyterLab plugin, hand-written as a module-federation container so
 * that no build step is needed: JupyterLab loads this file, calls init() and
 * get("./extension"). It uses only objects JupyterLab passes in (the application,
 * its service manager and commands), so it needs no shared modules.
 *
 * It turns jobwrapper's lifecycle events (runtime limit near, job ending) into
 * notifications that stay until dismissed.
 */
(function () {
  "use strict";
  var SCHEMA_ID = "https://jobwrapper.invalid/events/lifecycle";

  function activate(app) {
    var shown = {};
    function show(event) {
      var key = event.kind + ":" + event.message;
      if (shown[key]) {
        return;
      }
      shown[key] = true;
      // The notification plugin registers apputils:notify during startup: wait for it.
      app.restored.then(function () {
        return app.commands.execute("apputils:notify", {
          message: event.message,
          type: event.kind === "ending" ? "error" : (event.kind === "info" ? "info" : "warning"),
          options: { autoClose: false }
        });
      }).catch(function (error) {
        delete shown[key];
        console.warn("jobwrapper: cannot show notification", error);
      });
    }

    var services = app.serviceManager;
    if (services.events && services.events.stream) {
      services.events.stream.connect(function (_, event) {
        if (event && event.schema_id === SCHEMA_ID) {
          show(event);
        }
      });
    }

    // Warnings given before this page was opened.
    var settings = services.serverSettings;
    var headers = {};
    if (settings.token) {
      headers.Authorization = "token " + settings.token;
    }
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
