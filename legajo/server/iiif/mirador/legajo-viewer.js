// Opens the manifest given as ?manifest=URL (and, with ?q=WORDS, runs that search) in Mirador.
(function openLegajoViewer() {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var manifest = params.get("manifest");
  var query = params.get("q");
  var windowSettings = { manifestId: manifest, sideBarOpen: true };
  if (query) {
    windowSettings.defaultSearchQuery = query;
    windowSettings.sideBarPanel = "search";
  } else {
    windowSettings.sideBarPanel = "annotations";
  }
  window.legajoMirador = Mirador.viewer({
    id: "viewer",
    windows: manifest ? [windowSettings] : [],
    // the transcription is "supplementing"; Mirador lists only these motivations
    annotations: {
      filteredMotivations: [
        "supplementing", "commenting", "tagging", "oa:commenting", "oa:tagging", "sc:painting",
      ],
    },
    window: { allowClose: false, defaultSideBarPanel: "annotations", sideBarOpenByDefault: true },
    workspace: { showZoomControls: true },
    workspaceControlPanel: { enabled: false },
  });
})();
