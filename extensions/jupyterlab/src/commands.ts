/** The command ids of the Workbench extension (palette, sidebar buttons and tests). */
export namespace CommandIDs {
  /** Open a view (args: kind = compare | run | model | sweep | drift, id, title). */
  export const openView = 'workbench:open-view';
  /** Insert code into the active notebook (args: code); copies it without a notebook. */
  export const insertSnippet = 'workbench:insert-snippet';
  /** Open the workbench dashboard in a browser tab. */
  export const openDashboard = 'workbench:open-dashboard';
  /** Show the Workbench sidebar. */
  export const showSidebar = 'workbench:show-sidebar';
  /** Refresh the Workbench sidebar. */
  export const refresh = 'workbench:refresh';
}
