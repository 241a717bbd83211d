import type { MessageKey } from "./en";

// Spanish. Typed against the English keys, so a missing key fails `npm run check`.
export const es: Record<MessageKey, string> = {
  "app.name": "Warmline",
  "app.tagline": "Softphone para agentes de centros de contacto con Microsoft Teams",
  "header.state": "Estado del agente",
  "header.language": "Idioma",
  "state.offline": "Desconectado",
  "calls.empty.title": "No hay llamadas ahora",
  "calls.empty.body": "Las llamadas de clientes del centro de contacto aparecerán aquí.",
  "system.title": "Comprobación del sistema",
  "system.check": "Comprobar el sistema",
  "system.checking": "Comprobando…",
  "system.version": "Versión",
  "system.keyring": "Almacén de credenciales",
  "system.keyring.ok": "Llavero del sistema listo",
  "system.keyring.fail": "Llavero del sistema no disponible",
  "system.error": "La comprobación falló",
};
