/** Blood pressure (ACC/AHA 2017): category of averaged readings and home 7-day averages. */
export * from './category.ts';
export * from './home.ts';
