import * as x from 'lowdb'; globalThis.x=x;
