; Warmline's additions to the Tauri NSIS installer (installer/tauri.bundle.json,
; bundle.windows.nsis.installerHooks; docs/windows.md).
;
; The user's data is not under the bundle identifier Tauri's uninstaller
; knows about (%APPDATA%\app.warmline.desktop) but where the agent crate puts
; it: %APPDATA%\warmline (warmline.db, the notes and call history, encrypted;
; warmline.toml; the Microsoft 365 account and favourites) and
; %LOCALAPPDATA%\warmline (logs). Uninstalling keeps all of it, so a
; reinstall finds the notes again; only when the user ticks "Delete the
; application data" (and this is not an update) is it removed. Entries in
; the Credential Manager (the SIP password, tokens, the database key) stay
; either way; docs/windows.md shows how to remove them with `cmdkey /delete`.
!macro NSIS_HOOK_POSTUNINSTALL
  ${If} $DeleteAppDataCheckboxState = 1
  ${AndIf} $UpdateMode <> 1
    SetShellVarContext current
    RMDir /r "$APPDATA\warmline"
    RMDir /r "$LOCALAPPDATA\warmline"
  ${EndIf}
!macroend
